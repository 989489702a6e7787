"""Pipeline benchmark (issue 4): how much of the engine's throughput survives the job pipeline.

    .venv/bin/python bench/pipeline.py [--corpus DIR] [--jobs 200] [--latency-samples 200]

One run, on this machine, with 2 worker processes, prints a markdown table of:
- engine-only throughput: 2 processes calling `engine.compress` in a loop over the jobs' images;
- pipeline throughput: the same images submitted asynchronously (POST /v1/original_images, multipart) to a
  real gunicorn (2 workers) with a real Celery worker (`--concurrency 2`) on Redis and PostgreSQL, from the
  first request to the last original `completed` (the workers' `ended_at`); and their ratio (target ≥ 0.9,
  issue 14);
- accept latency p50/p99 of POST /v1/original_images with a 2 MB upload, one request at a time, while the
  workers are busy with a backlog (target p99 ≤ 150 ms);
- sync POST /v1/compress over the engine's own time for the same image, medians of interleaved runs with the
  asynchronous worker stopped (sync jobs run on a worker of their own, the Procfile's `sync`; target ≤ 1.2×).

Needs PostgreSQL at postgres@127.0.0.1:5432 and Redis at 127.0.0.1:6379 (what `.ci/run` starts). The database
`crush_bench` is dropped and created again, Redis db 9 is flushed (`--database`, `--redis-db` choose others);
files go to a temporary directory.
Settings of every compression: `balanced` (an account's default type), level 80, no resize;
`--compression-type lossy` measures a plain encode instead (about 0.15 s of engine time per photo, so the
pipeline's fixed cost per job — upload, rows, messages, about 0.08 s of CPU — weighs three times as much).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import logging
import multiprocessing
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# bench/ is the script's directory
from services_env import crush_environment, database_recreate, free_port, wait_for

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
DEFAULT_CORPUS = Path(tempfile.gettempdir()) / "crush-dev-corpus" / "jpeg"
# An environment variable, so that the engine-only processes (spawned) see the --compression-type choice.
COMPRESSION_TYPE = os.environ.get("CRUSH_BENCH_COMPRESSION_TYPE", "balanced")
LEVEL = 80
WORKERS = 2
TWO_MB = 2 * 10**6
START_TIMEOUT_SECONDS = 300  # gunicorn and Celery start in seconds; a shared machine under load took > 60 s


def _limits() -> Any:
    from compression.engine import EngineLimits

    return EngineLimits(
        max_input_bytes=100 * 2**20,
        max_pixels=100_000_000,
        max_frames=1000,
        max_pdf_pages=2000,
        max_svg_bytes=5 * 2**20,
    )


def _engine_compress(data: bytes) -> int:
    from compression import engine

    options = engine.CompressOptions(
        compression_type=engine.CompressionType(COMPRESSION_TYPE), level=LEVEL, strip_metadata=True
    )
    return len(engine.compress(data, options=options, resize=None, limits=_limits()).data)


# ---------------------------------------------------------------- setup


def _redis_flush(db: int) -> None:
    import redis

    redis.Redis(host="127.0.0.1", port=6379, db=db).flushdb()


def _account_token() -> str:
    from accounts.services import account_create, api_token_create

    account = account_create(login="bench", file_max_size=64 * 2**20)
    account.plan_bytes = None  # unlimited: the quota is not what is measured
    account.save(update_fields=["plan_bytes"])
    return api_token_create(account=account).raw


def _start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("wb")
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _web_up(base: str) -> bool:
    import requests

    try:
        return requests.get(f"{base}/health/live", timeout=1).status_code == 200
    except requests.RequestException:
        return False


# ---------------------------------------------------------------- CPU accounting (Linux /proc)
#
# Other sessions share this machine, so wall-clock throughput drifts with their load. CPU seconds spent per
# image do not: they compare the engine's own work with everything the pipeline adds (web, broker client,
# database, storage), whatever else runs.

_TICKS = os.sysconf("SC_CLK_TCK")


def _proc_stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds of the process and its reaped children)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
    return int(fields[1]), (utime + stime + cutime + cstime) / _TICKS


def cpu_seconds(roots: list[int]) -> float:
    """CPU seconds of the process trees under `roots` (live processes plus the children they reaped)."""
    stats = {
        int(entry.name): _proc_stat(int(entry.name))
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit()
    }
    children: dict[int, list[int]] = {}
    for pid, stat in stats.items():
        if stat is not None:
            children.setdefault(stat[0], []).append(pid)
    total, stack = 0.0, list(roots)
    while stack:
        pid = stack.pop()
        stat = stats.get(pid)
        if stat is not None:
            total += stat[1]
        stack.extend(children.get(pid, []))
    return total


# ---------------------------------------------------------------- measures


def engine_throughput(jobs: list[bytes], nice: int) -> tuple[float, float]:
    """Images per second of WORKERS processes calling the engine in a loop (spawned: no inherited state),
    and CPU seconds per image. They run at the Celery worker's niceness: on a shared machine a niced process
    yields to the others' load, and the reference must yield alike."""
    with multiprocessing.get_context("spawn").Pool(WORKERS, initializer=os.nice, initargs=(nice,)) as pool:
        pool.map(_engine_compress, jobs[:WORKERS], chunksize=1)  # import and first-call costs, not measured
        pids = [process.pid for process in pool._pool]  # type: ignore[attr-defined]
        cpu_before = cpu_seconds(pids)
        started = time.perf_counter()
        pool.map(_engine_compress, jobs, chunksize=1)
        elapsed = time.perf_counter() - started
        return len(jobs) / elapsed, (cpu_seconds(pids) - cpu_before) / len(jobs)


def _post(session: Any, url: str, token: str, name: str, data: bytes) -> tuple[int, float]:
    started = time.perf_counter()
    response = session.post(
        url,
        headers={"Authorization": f"Bearer {token}"},
        files={"file": (name, data, "image/jpeg")},
        data={"compression_type": COMPRESSION_TYPE, "compression_level": str(LEVEL), "origin": "bench"},
        timeout=300,
    )
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise SystemExit(f"POST {url}: {response.status_code} {response.text[:300]}")
    return int(response.json()["original_image"]["id"]), elapsed


def _submit_all(
    base: str, token: str, jobs: list[tuple[str, bytes]], clients: int
) -> tuple[list[int], list[float]]:
    import requests

    sessions = [requests.Session() for _ in range(clients)]
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        futures = [
            pool.submit(_post, sessions[index % clients], f"{base}/v1/original_images", token, name, data)
            for index, (name, data) in enumerate(jobs)
        ]
        results = [future.result() for future in futures]
    return [original_id for original_id, _ in results], [elapsed for _, elapsed in results]


def _wait_ended(ids: list[int], timeout: float) -> None:
    from compression.models import ENDED_STATUSES, OriginalImage

    deadline = time.monotonic() + timeout
    while OriginalImage.objects.filter(id__in=ids, status__in=ENDED_STATUSES).count() < len(ids):
        if time.monotonic() > deadline:
            raise SystemExit(f"the pipeline did not finish {len(ids)} jobs within {timeout:.0f} s")
        time.sleep(0.25)


def pipeline_throughput(
    base: str, token: str, jobs: list[tuple[str, bytes]], servers: list[int]
) -> dict[str, Any]:
    from django.db.models import Max

    from compression.models import OriginalImage, Status

    cpu_before = cpu_seconds(servers)
    started_at = datetime.datetime.now(datetime.UTC)
    ids, accept_seconds = _submit_all(base, token, jobs, clients=4)
    _wait_ended(ids, timeout=3600)
    cpu = cpu_seconds(servers) - cpu_before
    originals = OriginalImage.objects.filter(id__in=ids)
    ended_at = originals.aggregate(last=Max("ended_at"))["last"]
    seconds = (ended_at - started_at).total_seconds()
    return {
        "images_per_second": len(ids) / seconds,
        "seconds": seconds,
        "failed": originals.filter(status=Status.FAILED).count(),
        "accept_p50_ms": 1000 * statistics.median(accept_seconds),
        "cpu_per_image": cpu / len(ids),
    }


def two_megabyte_jpeg(corpus: list[Path]) -> bytes:
    """The corpus photo with the most pixels, re-encoded at the quality that lands closest to 2 MB."""
    import pyvips

    biggest = max(corpus, key=lambda path: _pixels(path))
    image = pyvips.Image.new_from_file(str(biggest))
    candidates = [
        image.resize(scale).jpegsave_buffer(Q=quality, subsample_mode="off")
        for scale in (1.0, 1.25, 1.5)
        for quality in (85, 90, 95, 98)
    ]
    return min(candidates, key=lambda data: abs(len(data) - TWO_MB))


def _pixels(path: Path) -> int:
    import pyvips

    image = pyvips.Image.new_from_file(str(path))
    return int(image.width * image.height)


def accept_latency(
    base: str, token: str, backlog: list[tuple[str, bytes]], upload: bytes, samples: int
) -> dict[str, Any]:
    """POSTs of `upload`, one at a time, after a backlog was queued so the workers are busy throughout."""
    import requests

    from compression.models import OriginalImage, Status

    _submit_all(base, token, backlog, clients=2)
    time.sleep(1.0)
    session = requests.Session()
    _post(session, f"{base}/v1/original_images", token, "warm-up.jpg", upload)
    latencies = []
    for index in range(samples):
        _, elapsed = _post(session, f"{base}/v1/original_images", token, f"two-mb-{index}.jpg", upload)
        latencies.append(1000 * elapsed)
    still_busy = OriginalImage.objects.filter(status__in=[Status.ENQUEUED, Status.PROCESSING]).count()
    latencies.sort()
    return {
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[min(len(latencies) - 1, round(0.99 * len(latencies)) - 1)],
        "max_ms": latencies[-1],
        "samples": samples,
        "unfinished_after": still_busy,
    }


def sync_over_engine(base: str, token: str, name: str, data: bytes, runs: int) -> dict[str, Any]:
    """Interleaved runs (engine in this process, then POST /v1/compress) so load drift hits both alike."""
    import requests

    session = requests.Session()
    _engine_compress(data)
    _post(session, f"{base}/v1/compress", token, name, data)
    engine_seconds, sync_seconds = [], []
    for _ in range(runs):
        started = time.perf_counter()
        _engine_compress(data)
        engine_seconds.append(time.perf_counter() - started)
        sync_seconds.append(_post(session, f"{base}/v1/compress", token, name, data)[1])
    engine_median, sync_median = statistics.median(engine_seconds), statistics.median(sync_seconds)
    return {"engine_s": engine_median, "sync_s": sync_median, "ratio": sync_median / engine_median}


# ---------------------------------------------------------------- main


def main() -> None:
    global COMPRESSION_TYPE
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="directory of JPEG photos")
    parser.add_argument("--jobs", type=int, default=200, help="async submissions (and engine-only images)")
    parser.add_argument("--latency-samples", type=int, default=200)
    parser.add_argument("--backlog", type=int, default=40, help="jobs queued before the latency samples")
    parser.add_argument("--sync-runs", type=int, default=5)
    parser.add_argument("--database", default="crush_bench")
    parser.add_argument("--redis-db", type=int, default=9)
    parser.add_argument(
        "--worker-nice",
        type=int,
        default=10,
        help="Celery worker (and the engine-only reference) under `nice -n N` (10: the Procfile's default)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database and files afterwards")
    parser.add_argument(
        "--compression-type", choices=("lossy", "balanced", "lossless"), default=COMPRESSION_TYPE
    )
    args = parser.parse_args()
    COMPRESSION_TYPE = os.environ["CRUSH_BENCH_COMPRESSION_TYPE"] = args.compression_type

    corpus = sorted(path for path in args.corpus.iterdir() if path.suffix.lower() in (".jpg", ".jpeg"))
    if not corpus:
        raise SystemExit(f"no JPEG photos in {args.corpus} (build it with bench/corpus/build-dev.sh)")
    photos = [(path.name, path.read_bytes()) for path in corpus]
    jobs = [photos[index % len(photos)] for index in range(args.jobs)]
    sync_name, sync_data = sorted(photos, key=lambda photo: len(photo[1]))[len(photos) // 2]  # median size

    var_dir = tempfile.mkdtemp(prefix="crush-bench-pipeline-")
    env = crush_environment(
        database=args.database,
        broker_url=f"redis://127.0.0.1:6379/{args.redis_db}",
        var_dir=var_dir,
        CRUSH_RATE_LIMIT="1000000/min",
    )
    os.environ.update(env)
    database_recreate(args.database)
    _redis_flush(args.redis_db)

    import django

    django.setup()
    logging.getLogger("pyvips").setLevel(logging.WARNING)
    from django.core.management import call_command
    from django.db import connections

    call_command("migrate", verbosity=0)
    token = _account_token()
    connections.close_all()
    load_before = os.getloadavg()

    print(f"engine-only: {len(jobs)} images, {WORKERS} processes …", flush=True)
    engine_ips, engine_cpu = engine_throughput([data for _, data in jobs], args.worker_nice)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    web = _start(
        [
            str(BIN / "gunicorn"),
            "crush.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",  # as the Procfile: sync requests wait for their job in a thread of their own
            "16",
            "--timeout",
            "300",
        ],
        env,
        Path(var_dir) / "gunicorn.log",
    )
    sync_log = Path(var_dir) / "sync.log"
    sync_worker = _start(  # the Procfile's `sync` process: synchronous jobs have a queue of their own
        [
            str(BIN / "celery"),
            "-A",
            "crush",
            "worker",
            "--loglevel",
            "INFO",
            "--queues",
            "sync",
            "--concurrency",
            str(WORKERS),
            "-n",
            "sync@%h",
            "--without-gossip",
            "--without-mingle",
        ],
        env,
        sync_log,
    )
    worker_log = Path(var_dir) / "worker.log"
    worker = _start(
        [
            *(["nice", "-n", str(args.worker_nice)] if args.worker_nice else []),
            str(BIN / "celery"),
            "-A",
            "crush",
            "worker",
            "--loglevel",
            "INFO",
            "--queues",
            "compression,webhooks,default",
            "--concurrency",
            str(WORKERS),
            "--without-gossip",
            "--without-mingle",
        ],
        env,
        worker_log,
    )
    try:
        wait_for("gunicorn", lambda: _web_up(base), timeout=START_TIMEOUT_SECONDS)
        wait_for("celery worker", lambda: b"ready." in worker_log.read_bytes(), timeout=START_TIMEOUT_SECONDS)
        wait_for(
            "celery sync worker", lambda: b"ready." in sync_log.read_bytes(), timeout=START_TIMEOUT_SECONDS
        )

        print(f"pipeline: {len(jobs)} async submissions …", flush=True)
        pipeline = pipeline_throughput(base, token, jobs, [web.pid, worker.pid])

        upload = two_megabyte_jpeg(corpus)
        print(
            f"accept latency: {args.latency_samples} × {len(upload) / 1e6:.2f} MB, workers busy …", flush=True
        )
        backlog = [photos[index % len(photos)] for index in range(args.backlog)]
        latency = accept_latency(base, token, backlog, upload, args.latency_samples)

        _stop(worker)
        _redis_flush(args.redis_db)  # drop the rest of the backlog: the sync runs want idle CPUs
        print(f"sync /v1/compress vs engine: {sync_name} ({len(sync_data)} bytes) …", flush=True)
        sync = sync_over_engine(base, token, sync_name, sync_data, args.sync_runs)
    finally:
        _stop(worker)
        _stop(sync_worker)
        _stop(web)
        _redis_flush(args.redis_db)
    # Other load on the machine drifts: the engine is measured again after, and the ratio uses the mean.
    print(f"engine-only again: {len(jobs)} images, {WORKERS} processes …", flush=True)
    engine_after, engine_cpu_after = engine_throughput([data for _, data in jobs], args.worker_nice)
    load_after = os.getloadavg()

    ratio = pipeline["images_per_second"] / ((engine_ips + engine_after) / 2)
    print()
    print(
        f"{platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"load average {load_before[0]:.1f} before / {load_after[0]:.1f} after; "
        f"{len(corpus)} photos from {args.corpus}; {COMPRESSION_TYPE} level {LEVEL}, no resize"
    )
    print()
    print("| measure | result | target |")
    print("|---|---|---|")
    print(
        f"| engine only, {WORKERS} processes, {len(jobs)} images (before / after the pipeline) | "
        f"{engine_ips:.2f} / {engine_after:.2f} images/s | |"
    )
    print(
        f"| pipeline, {len(jobs)} async submissions (accept → completed), gunicorn 2 + celery "
        f"{WORKERS}{f' (nice {args.worker_nice})' if args.worker_nice else ''} | "
        f"{pipeline['images_per_second']:.2f} images/s ({pipeline['seconds']:.1f} s, "
        f"{pipeline['failed']} failed) | |"
    )
    print(f"| pipeline / engine (mean of before and after) | **{ratio:.2f}** | ≥ 0.9 |")
    engine_cpu_mean = (engine_cpu + engine_cpu_after) / 2
    print(
        f"| CPU seconds per image: engine / pipeline (web + worker trees) | {engine_cpu_mean:.3f} / "
        f"{pipeline['cpu_per_image']:.3f} s → efficiency "
        f"{engine_cpu_mean / pipeline['cpu_per_image']:.2f} | |"
    )
    print(
        f"| accept latency, {len(upload) / 1e6:.2f} MB upload, workers busy (n={latency['samples']}) | "
        f"p50 {latency['p50_ms']:.0f} ms, **p99 {latency['p99_ms']:.0f} ms** (max {latency['max_ms']:.0f}; "
        f"{latency['unfinished_after']} jobs still queued after) | p99 ≤ 150 ms |"
    )
    print(
        f"| sync /v1/compress ÷ engine, {sync_name} (median of {args.sync_runs}) | "
        f"**{sync['ratio']:.2f}×** ({sync['sync_s'] * 1000:.0f} ms vs {sync['engine_s'] * 1000:.0f} ms) "
        "| ≤ 1.2× |"
    )
    print(
        f"| accept latency during the throughput run (4 clients, p50) | {pipeline['accept_p50_ms']:.0f} ms "
        "| |"
    )

    if not args.keep:
        import shutil

        connections.close_all()
        database_recreate(args.database, create=False)
        shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
