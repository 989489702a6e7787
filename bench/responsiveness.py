"""Responsiveness benchmark (issue 14 item 1): the API answers while large synchronous jobs are in flight.

    .venv/bin/python bench/responsiveness.py [--production] [--syncs 4] [--idle-samples 200]

Runs the real `make run` stack — `python -m crush.honcho_run --procfile Procfile start` (web: gunicorn
threaded, worker, sync, webhooks, beat) on a free loopback port — on the embedded defaults (SQLite and the
filesystem broker in a temporary CRUSH_VAR_DIR), or with `--production` on PostgreSQL (database
`crush_respbench`, dropped and created again) and a private `redis-server` on a free port. Then:
- idle reference: `--idle-samples` GET /v1/shop, one at a time, each on a new connection;
- load: `--syncs` concurrent sync `balanced` POST /v1/compress of distinct 20 MP (5472×3648) photos — real
  photos of the dev corpus (bench/corpus/build-dev.sh) upscaled and cropped, with a light grain so that they
  carry the fine detail of a camera's file — while GET /v1/shop is sent every `--interval-ms` (one at a time,
  each timed) and GET /health/live every second, until every sync request has answered.
Target (issue 14): shop p99 ≤ 200 ms under that load and /health/live answering. Settings are the
defaults (CRUSH_SYNC_WAIT_SECONDS 60, CRUSH_SYNC_CONCURRENCY 2): a sync request still running after its wait
answers 200 with the job `processing` — the designed behaviour, reported as such; the script then waits
(bounded) for those jobs to end and reports their final status.

Prints a markdown table; the JSON report goes to var/bench/responsiveness-<UTC time>.json. The machine is
shared: the load average before and after is part of the report.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

# bench/ is the script's directory
from services_env import crush_environment, database_recreate, free_port, proc_stats, redis_start, wait_for

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PROCFILE = ROOT / "Procfile"
DEFAULT_CORPUS = Path(tempfile.gettempdir()) / "crush-dev-corpus" / "jpeg"
PHOTOS = ("BytheWater", "EveningGlow", "FallenLeaf", "Kite", "OneStandsOut", "summer_1am")
WIDTH, HEIGHT = 5472, 3648  # 20 MP, a 3:2 camera sensor
P99_TARGET_SECONDS = 0.200
SHOP_TIMEOUT_SECONDS = 10.0  # a GET slower than this counts as failed
LIVE_TIMEOUT_SECONDS = 5.0
SYNC_TIMEOUT_SECONDS = 300.0  # far past CRUSH_SYNC_WAIT_SECONDS: a client that waits for the answer
READY_TIMEOUT_SECONDS = 180.0
SETTLE_TIMEOUT_SECONDS = 900.0  # jobs answered `processing`: the wait for their end
STOP_KILL_SECONDS = 90.0


# ---------------------------------------------------------------- the stack


def embedded_environment(var_dir: Path) -> dict[str, str]:
    """`make run`'s environment: no DATABASE_URL nor CELERY_BROKER_URL (SQLite, filesystem broker)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "CRUSH_", "DJANGO_"))
        and key not in ("DATABASE_URL", "CELERY_BROKER_URL")
    }
    env.update(
        SECRET_KEY="bench-only-secret-key",
        CRUSH_VAR_DIR=str(var_dir),
        PYTHONUNBUFFERED="1",
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    return env


def stack_environment(
    production: bool, database: str, var_dir: Path, processes: list[subprocess.Popen[bytes]]
) -> tuple[dict[str, str], str]:
    """The environment of the `make run` stack and its name: the embedded defaults, or (``production``)
    PostgreSQL ``database`` recreated and a private redis-server, appended to ``processes``."""
    if not production:
        env = embedded_environment(var_dir / "var")
        return env, "honcho Procfile, embedded defaults (SQLite, filesystem broker)"
    broker, broker_url = redis_start(var_dir)
    processes.append(broker)
    env = crush_environment(
        database=database,
        broker_url=broker_url,
        var_dir=str(var_dir / "var"),
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    database_recreate(database)
    return env, "honcho Procfile, PostgreSQL + Redis"


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    if done.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def stack_start(env: dict[str, str], procfile: Path, port: int, log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "crush.honcho_run",
                "--procfile",
                str(procfile),
                "start",
                "--port",
                str(port),
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _descendant_groups(pid: int) -> set[int]:
    """Process groups of every descendant of `pid` (honcho starts each Procfile process in a session of its
    own, so a SIGKILL of honcho's group alone would leave them running)."""
    children: dict[int, list[int]] = {}
    groups: dict[int, int] = {}
    for pid, fields in proc_stats():
        children.setdefault(int(fields[1]), []).append(pid)
        groups[pid] = int(fields[2])
    found: set[int] = set()
    pending = list(children.get(pid, []))
    while pending:
        child = pending.pop()
        found.add(groups[child])
        pending += children.get(child, [])
    return found


def stack_stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to honcho's group (it stops every Procfile process gracefully), SIGKILL after 90 s — to its
    group and to those of the processes it started."""
    if process.poll() is not None:
        return
    groups = _descendant_groups(process.pid)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_KILL_SECONDS)
    except subprocess.TimeoutExpired:
        for group in {process.pid, *groups}:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signal.SIGKILL)
        process.wait(timeout=30)


def _ready(base: str) -> bool:
    import requests

    try:
        return requests.get(f"{base}/health/ready", timeout=5).status_code == 200
    except requests.RequestException:
        return False


# ---------------------------------------------------------------- inputs


def build_photos(corpus: Path, count: int, directory: Path) -> list[Path]:
    """`count` distinct 20 MP JPEGs from the corpus's photos: scaled to cover 5472×3648 (lanczos3), cropped
    to it, with a light grain (σ 3), saved at Q 92 like a camera's file."""
    import pyvips

    sources = [corpus / f"{name}.jpg" for name in PHOTOS if (corpus / f"{name}.jpg").is_file()]
    if len(sources) < count:
        raise SystemExit(f"{corpus}: {len(sources)} of the photos {PHOTOS} found, {count} needed")
    paths = []
    for source in sources[:count]:
        image = pyvips.Image.new_from_file(str(source), access="sequential")
        image = image.resize(max(WIDTH / image.width, HEIGHT / image.height), kernel="lanczos3")
        image = image.crop((image.width - WIDTH) // 2, (image.height - HEIGHT) // 2, WIDTH, HEIGHT)
        grain = pyvips.Image.gaussnoise(WIDTH, HEIGHT, sigma=3, mean=0)
        image = (image + grain).cast("uchar").copy(interpretation="srgb")
        path = directory / f"{source.stem}-{WIDTH}x{HEIGHT}.jpg"
        image.jpegsave(str(path), Q=92)
        paths.append(path)
    return paths


# ---------------------------------------------------------------- measures


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def _get(url: str, headers: dict[str, str], timeout: float) -> tuple[float, int | None]:
    """Seconds and status code of one GET on a new connection (None: error or timeout)."""
    import requests

    started = time.perf_counter()
    try:
        status: int | None = requests.get(url, headers=headers, timeout=timeout).status_code
    except requests.RequestException:
        status = None
    return time.perf_counter() - started, status


def _summary(samples: list[tuple[float, int | None]]) -> dict[str, Any]:
    ok = [seconds for seconds, status in samples if status == 200]
    return {
        "requests": len(samples),
        "not_200": sum(1 for _, status in samples if status is not None and status != 200),
        "failed": sum(1 for _, status in samples if status is None),
        "p50": statistics.median(ok) if ok else None,
        "p95": _percentile(ok, 0.95) if ok else None,
        "p99": _percentile(ok, 0.99) if ok else None,
        "max": max(ok) if ok else None,
    }


def idle(base: str, headers: dict[str, str], samples: int) -> dict[str, Any]:
    _get(f"{base}/v1/shop", headers, SHOP_TIMEOUT_SECONDS)  # first-request costs, not measured
    return _summary([_get(f"{base}/v1/shop", headers, SHOP_TIMEOUT_SECONDS) for _ in range(samples)])


def _compress(base: str, headers: dict[str, str], path: Path, result: dict[str, Any]) -> None:
    import requests

    started = time.perf_counter()
    try:
        with path.open("rb") as file:
            response = requests.post(
                f"{base}/v1/compress",
                headers=headers,
                files={"file": (path.name, file, "image/jpeg")},
                data={"compression_type": "balanced"},
                timeout=SYNC_TIMEOUT_SECONDS,
            )
        result["status_code"] = response.status_code
        try:
            original = response.json().get("original_image") or {}
        except ValueError:
            original = {}
            result["body"] = response.text[:300]
        result["id"] = original.get("id")
        result["status"] = original.get("status")
        result["error_msg"] = original.get("error_msg") or None
    except requests.RequestException as error:
        result["status_code"] = None
        result["error"] = f"{type(error).__name__}: {error}"[:300]
    result["seconds"] = time.perf_counter() - started


def load(
    base: str, headers: dict[str, str], photos: list[Path], interval: float
) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]], float]:
    """The sync requests in threads of their own; shop timed from this thread, /health/live from another."""
    results: list[dict[str, Any]] = [{"file": path.name, "bytes": path.stat().st_size} for path in photos]
    threads = [
        threading.Thread(target=_compress, args=(base, headers, path, result), daemon=True)
        for path, result in zip(photos, results, strict=True)
    ]
    live: list[tuple[float, int | None]] = []
    done = threading.Event()

    def live_loop() -> None:
        while not done.is_set():
            started = time.monotonic()
            live.append(_get(f"{base}/health/live", {}, LIVE_TIMEOUT_SECONDS))
            done.wait(max(0.0, 1.0 - (time.monotonic() - started)))

    started = time.monotonic()
    for thread in threads:
        thread.start()
    prober = threading.Thread(target=live_loop, daemon=True)
    prober.start()
    shop: list[tuple[float, int | None]] = []
    sent_at: list[float] = []
    deadline = started + SYNC_TIMEOUT_SECONDS + 30
    while any(thread.is_alive() for thread in threads) and time.monotonic() < deadline:
        tick = time.monotonic()
        sent_at.append(tick - started)
        shop.append(_get(f"{base}/v1/shop", headers, SHOP_TIMEOUT_SECONDS))
        time.sleep(max(0.0, interval - (time.monotonic() - tick)))
    window = time.monotonic() - started
    done.set()
    prober.join(timeout=LIVE_TIMEOUT_SECONDS + 2)
    for thread in threads:
        thread.join(timeout=5)
    summary = _summary(shop)
    slowest = sorted(zip(sent_at, shop, strict=True), key=lambda row: -row[1][0])[:10]
    summary["slowest"] = [  # when they were sent, to tell the uploads' start from the compressions
        {"sent_at_seconds": round(at, 2), "ms": round(seconds * 1000), "status": status}
        for at, (seconds, status) in slowest
    ]
    return summary, _summary(live), results, window


def settle(base: str, headers: dict[str, str], results: list[dict[str, Any]]) -> float | None:
    """Jobs answered `processing` (or `enqueued`) go on asynchronously: polls each until it ends (bounded);
    records its final status. The seconds that took, None when nothing was left to wait for."""
    import requests

    pending = [r for r in results if r.get("id") and r.get("status") not in ("completed", "failed")]
    if not pending:
        return None
    started = time.monotonic()
    deadline = started + SETTLE_TIMEOUT_SECONDS
    while pending and time.monotonic() < deadline:
        for result in list(pending):
            with contextlib.suppress(requests.RequestException, ValueError):
                body = requests.get(f"{base}/v1/original_images/{result['id']}", headers=headers, timeout=10)
                status = (body.json().get("original_image") or {}).get("status")
                if status in ("completed", "failed"):
                    result["final_status"] = status
                    result["final_after_seconds"] = result["seconds"] + time.monotonic() - started
                    pending.remove(result)
        time.sleep(1.0)
    for result in pending:
        result["final_status"] = f"not ended within {SETTLE_TIMEOUT_SECONDS:.0f} s"
    return time.monotonic() - started


# ---------------------------------------------------------------- report


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value * 1000:.0f}"


def render(report: dict[str, Any]) -> str:
    shop_idle, shop, live = report["shop_idle"], report["shop_load"], report["live_load"]
    ratio = shop["p99"] / shop_idle["p99"] if shop["p99"] and shop_idle["p99"] else None
    ok = shop["p99"] is not None and shop["p99"] <= P99_TARGET_SECONDS and shop["failed"] == 0
    live_ok = live["requests"] > 0 and live["failed"] == 0 and live["not_200"] == 0
    lines = [
        f"{report['host']}: {report['cpus']} CPUs, Python {report['python']}, commit {report['commit']}, "
        f"{report['started']} UTC; stack `{report['stack']}` ({report['procfile']}); "
        f"load average (1/5/15 min) "
        f"{'/'.join(f'{x:.1f}' for x in report['load_before'])} before, "
        f"{'/'.join(f'{x:.1f}' for x in report['load_after'])} after",
        "",
        "| GET /v1/shop, one at a time | requests | failed / non-200 | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, row in (("idle", shop_idle), (f"{report['syncs']} sync `balanced` 20 MP in flight", shop)):
        lines.append(
            f"| {label} | {row['requests']} | {row['failed']} / {row['not_200']} | {_ms(row['p50'])} | "
            f"{_ms(row['p95'])} | **{_ms(row['p99'])}** | {_ms(row['max'])} |"
        )
    versus = f" (p99 under load / idle: {ratio:.1f}×)" if ratio else ""
    lines += [
        "",
        f"Target shop p99 ≤ 200 ms under load, none failed: {'✓' if ok else '✗'}{versus}",
        f"/health/live every second during the {report['window_seconds']:.0f} s window: {live['requests']} "
        f"requests, {live['failed']} failed, {live['not_200']} non-200, p99 {_ms(live['p99'])} ms, "
        f"max {_ms(live['max'])} ms {'✓' if live_ok else '✗'}",
        "",
        "| sync POST /v1/compress | MB | HTTP | status | wall s | final status |",
        "|---|---|---|---|---|---|",
    ]
    for result in report["syncs_results"]:
        final = result.get("final_status", "")
        if "final_after_seconds" in result:
            final += f" (after {result['final_after_seconds']:.0f} s)"
        lines.append(
            f"| {result['file']} | {result['bytes'] / 1e6:.1f} | {result.get('status_code')} | "
            f"{result.get('status') or result.get('error') or result.get('body', '')} | "
            f"{result['seconds']:.1f} | {final} |"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--production", action="store_true", help="PostgreSQL + a private redis-server")
    parser.add_argument("--syncs", type=int, default=4, help="concurrent sync requests")
    parser.add_argument("--idle-samples", type=int, default=200)
    parser.add_argument("--interval-ms", type=int, default=100, help="GET /v1/shop period under load")
    parser.add_argument(
        "--corpus", type=Path, default=DEFAULT_CORPUS, help="photos (bench/corpus/build-dev.sh)"
    )
    parser.add_argument("--database", default="crush_respbench")
    parser.add_argument("--procfile", type=Path, default=PROCFILE, help="to compare other process settings")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, inputs)")
    args = parser.parse_args()
    if not args.corpus.is_dir():
        subprocess.run(
            ["bash", str(ROOT / "bench/corpus/build-dev.sh")], check=True, stdout=subprocess.DEVNULL
        )

    started = datetime.datetime.now(datetime.UTC)
    var_dir = Path(tempfile.mkdtemp(prefix="crush-bench-responsiveness-"))
    photos = build_photos(args.corpus, args.syncs, var_dir)
    processes: list[subprocess.Popen[bytes]] = []
    stack = None
    try:
        env, stack_name = stack_environment(args.production, args.database, var_dir, processes)
        (var_dir / "var").mkdir()
        manage(env, "migrate", "--noinput")
        token = json.loads(manage(env, "create_account", "bench").strip().splitlines()[-1])["token"]
        headers = {"Authorization": f"Bearer {token}"}
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        stack = stack_start(env, args.procfile.resolve(), port, var_dir / "honcho.log")
        wait_for("/health/ready", lambda: stack.poll() is None and _ready(base), READY_TIMEOUT_SECONDS)
        time.sleep(5)  # the workers finish starting (readiness only needs the web process)
        print(f"stack ready on {base}; idle reference: {args.idle_samples} GET /v1/shop …", file=sys.stderr)
        shop_idle = idle(base, headers, args.idle_samples)
        load_before = os.getloadavg()
        print(f"load: {args.syncs} sync balanced POST /v1/compress of 20 MP JPEGs …", file=sys.stderr)
        shop, live, results, window = load(base, headers, photos, args.interval_ms / 1000)
        load_after = os.getloadavg()
        print("waiting for the jobs answered before their end …", file=sys.stderr)
        settled = settle(base, headers, results)
    finally:
        if stack is not None:
            stack_stop(stack)
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        if args.production:
            database_recreate(args.database, create=False)

    commit = subprocess.run(
        ["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True, text=True
    ).stdout.strip()
    report = {
        "command": " ".join(["bench/responsiveness.py", *sys.argv[1:]]),
        "started": started.strftime("%Y-%m-%d %H:%M"),
        "commit": commit,
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "stack": stack_name,
        "procfile": str(args.procfile),
        "syncs": args.syncs,
        "image": f"{WIDTH}x{HEIGHT} JPEG Q92",
        "interval_ms": args.interval_ms,
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in load_after],
        "window_seconds": window,
        "settle_seconds": settled,
        "shop_idle": shop_idle,
        "shop_load": shop,
        "live_load": live,
        "syncs_results": results,
        "target_met": shop["p99"] is not None
        and shop["p99"] <= P99_TARGET_SECONDS
        and shop["failed"] == 0
        and live["requests"] > 0
        and live["failed"] == 0
        and live["not_200"] == 0,
    }
    out = ROOT / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"responsiveness-{started.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=1))
    print()
    print(render(report))
    print()
    print(f"report: {path}")
    if args.keep:
        print(f"kept: {var_dir}")
    else:
        shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
