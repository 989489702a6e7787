"""Webhooks benchmark (issue 5): how fast a finished job reaches its receiver, how many deliveries per second.

    .venv/bin/python bench/webhooks.py [--jobs 200] [--deliveries 2000] [--receiver-delay-ms 50]

Both measures run the Procfile's own `worker` and `webhooks` commands (read from ./Procfile, default settings:
compression prefork 2, webhooks threads 32) on Redis and PostgreSQL, with loopback receivers in their own
processes (CRUSH_ALLOW_PRIVATE_URLS=true):
- latency: `--jobs` tiny JPEGs submitted asynchronously through `original_image_submit` (the service behind
  POST /v1/original_images); per original, the seconds from its `ended_at` (the `completed` timestamp, written
  in the transaction that writes the event) to the receiver's arrival of its webhook; p50/p99
  (target p99 ≤ 1 s);
- dispatcher throughput: `--deliveries` events (one delivery each, the body of a real event) enqueued while
  the webhooks worker is stopped, then the worker started; deliveries per second from the receiver's first
  arrival to its last, against a receiver answering in `--receiver-delay-ms` (target ≥ 100/s); and the
  worker's CPU milliseconds per delivery, which other load on a shared machine does not change.

Needs PostgreSQL at postgres@127.0.0.1:5432 (database `crush_whbench` is dropped and created again) and
`redis-server` on PATH: a private one on a free port is the broker (or `--redis-url`, whose db is flushed).
Arrival times and `ended_at` come from the same clock (one machine).
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import json
import logging
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
from services_env import (
    crush_environment,
    database_recreate,
    free_port,
    port_open,
    proc_stats,
    redis_start,
    wait_for,
)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
P99_TARGET_SECONDS = 1.0
RATE_TARGET_PER_SECOND = 100.0
EMIT_BATCH = 100  # events per transaction while filling the backlog


# ---------------------------------------------------------------- receiver (its own process)


def receiver_main(port: int, delay_ms: int, log_path: str) -> None:
    """Answers each POST with 200 after `delay_ms`; appends "<arrival unix time> <webhook-id>" per request."""
    lock = threading.Lock()
    log = open(log_path, "a", buffering=1)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            arrived = time.time()
            with lock:
                log.write(f"{arrived:.6f} {self.headers.get('webhook-id', '-')}\n")
            if delay_ms:
                time.sleep(delay_ms / 1000)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            return

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 512

    Server(("127.0.0.1", port), Handler).serve_forever()


class Receiver:
    def __init__(self, delay_ms: int, directory: Path) -> None:
        self.port = free_port()
        self.log_path = directory / f"receiver-{self.port}.log"
        self.log_path.touch()
        self.process = subprocess.Popen(
            [sys.executable, __file__, "_receiver", str(self.port), str(delay_ms), str(self.log_path)],
            cwd=ROOT,
            start_new_session=True,
        )
        wait_for(f"receiver on port {self.port}", lambda: port_open(self.port), timeout=30)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def arrivals(self) -> list[tuple[float, str]]:
        lines = self.log_path.read_text().splitlines()
        return [(float(moment), webhook_id) for moment, webhook_id in (line.split() for line in lines)]

    def count(self) -> int:
        return self.log_path.read_text().count("\n")

    def stop(self) -> None:
        _stop(self.process)


# ---------------------------------------------------------------- processes


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process group (a celery worker's pool included), SIGKILL after 30 s."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


PROCFILE = ROOT / "Procfile"


def procfile_command(procfile: Path, role: str) -> str:
    for line in procfile.read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == role:
            return command.strip()
    raise SystemExit(f"no `{role}` process in the Procfile")


def start_role(
    procfile: Path, role: str, env: dict[str, str], directory: Path
) -> tuple[subprocess.Popen[bytes], Path]:
    """Runs the Procfile's command for `role` as honcho would (a shell expands its ${VAR:-default}s)."""
    log_path = directory / f"{role}-{time.monotonic_ns()}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            ["/bin/sh", "-c", f"exec {procfile_command(procfile, role)}"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    wait_for(f"{role} worker", lambda: b" ready." in log_path.read_bytes() or process.poll() is not None)
    if process.poll() is not None:
        raise SystemExit(f"{role} exited:\n{log_path.read_text()[-3000:]}")
    return process, log_path


# ---------------------------------------------------------------- measures


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def _tiny_jpeg(index: int) -> bytes:
    import pyvips

    x = pyvips.Image.xyz(64, 48)
    image = (x[0] * 4).cast("uchar").bandjoin([(x[1] * 5).cast("uchar"), ((x[0] + x[1] + index) % 256)])
    return image.cast("uchar").copy(interpretation="srgb").jpegsave_buffer(Q=95)


def _account(login: str, url: str) -> Any:
    from accounts.services import account_create
    from webhooks.services import callback_url_create

    account = account_create(login=login)
    account.plan_bytes = None  # unlimited: the quota is not what is measured
    account.save(update_fields=["plan_bytes"])
    callback_url_create(account=account, url=url)
    return account


def latency(receiver: Receiver, jobs: int) -> dict[str, Any]:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from compression.models import OriginalImage, Status
    from compression.services import SubmitOptions, original_image_submit
    from webhooks.models import WebhookEvent

    account = _account("bench-latency", receiver.url)
    started = time.time()
    ids = [
        original_image_submit(
            account=account,
            options=SubmitOptions(compression_type="lossy"),
            base_url="http://bench.invalid",
            upload=SimpleUploadedFile(f"tiny-{index}.jpg", _tiny_jpeg(index), content_type="image/jpeg"),
            synchronous=False,
        ).id
        for index in range(jobs)
    ]
    submitted = time.time() - started
    wait_for(f"{jobs} webhooks", lambda: receiver.count() >= jobs, timeout=1800)
    time.sleep(1.0)  # a duplicate would arrive now
    arrivals = receiver.arrivals()
    first_arrival: dict[str, float] = {}
    for moment, webhook_id in arrivals:
        first_arrival.setdefault(webhook_id, moment)
    image_of = dict(
        WebhookEvent.objects.filter(public_id__in=first_arrival).values_list("public_id", "image_id")
    )
    originals = OriginalImage.objects.filter(id__in=ids)
    ended_at = {
        original_id: moment.timestamp()
        for original_id, moment in originals.values_list("id", "ended_at")
        if moment is not None
    }
    seconds = [first_arrival[public_id] - ended_at[image_of[public_id]] for public_id in image_of]
    last_ended = max(ended_at.values())
    return {
        "jobs": jobs,
        "submit_seconds": submitted,
        "pipeline_seconds": last_ended - started,
        "failed": originals.exclude(status=Status.COMPLETED).count(),
        "received": len(arrivals),
        "events": len(image_of),
        "p50": statistics.median(seconds),
        "p99": _percentile(seconds, 0.99),
        "max": max(seconds),
        "min": min(seconds),
    }


def throughput(
    receiver: Receiver,
    deliveries: int,
    *,
    procfile: Path,
    env: dict[str, str],
    var_dir: Path,
    broker_port: int | None,
) -> dict[str, Any]:
    """Fills the backlog with the webhooks worker stopped, then starts it and times the receiver's arrivals.

    The worker's CPU time is read from /proc when the first delivery arrives and after the last one.
    """
    from django.db import transaction
    from django.db.models import Count

    from webhooks.models import Delivery, DeliveryStatus, WebhookEvent
    from webhooks.services import original_image_event_emit

    account = _account("bench-throughput", receiver.url)
    template = json.loads(WebhookEvent.objects.order_by("id").values_list("body", flat=True).first() or "{}")
    payload = {key: value for key, value in template.items() if key not in ("id", "event", "created_at")}
    for start in range(0, deliveries, EMIT_BATCH):
        with transaction.atomic():
            for index in range(start, min(deliveries, start + EMIT_BATCH)):
                original_image_event_emit(
                    account=account, event="optimized", original_image_id=10**9 + index, payload=payload
                )
    queued = None
    if broker_port is not None:
        import redis

        queued = int(redis.Redis(host="127.0.0.1", port=broker_port).llen("webhooks"))
    worker_started = time.time()
    worker, log_path = start_role(procfile, "webhooks", env, var_dir)
    try:
        wait_for("the first delivery", lambda: receiver.count() > 0, timeout=600)
        cpu_first, count_first = _cpu_seconds(worker.pid), receiver.count()
        wait_for(f"{deliveries} deliveries", lambda: receiver.count() >= deliveries, timeout=1800)
        cpu_last = _cpu_seconds(worker.pid)
        delivered = Delivery.objects.filter(event__account=account, status=DeliveryStatus.DELIVERED)
        wait_for("the deliveries to be recorded", lambda: delivered.count() >= deliveries, timeout=120)
    finally:
        _stop(worker)
    arrivals = sorted(moment for moment, _ in receiver.arrivals())
    attempts = Delivery.objects.filter(event__account=account).aggregate(count=Count("attempt_log"))
    span = arrivals[-1] - arrivals[0]
    middle = arrivals[len(arrivals) // 10 : len(arrivals) - len(arrivals) // 10]
    return {
        "deliveries": deliveries,
        "queued": queued,
        "received": len(arrivals),
        "unique": len({webhook_id for _, webhook_id in receiver.arrivals()}),
        "rate": (len(arrivals) - 1) / span,
        "rate_middle": (len(middle) - 1) / (middle[-1] - middle[0]),
        "span_seconds": span,
        "from_start_seconds": arrivals[-1] - worker_started,
        "attempts": attempts["count"],
        "concurrency": _worker_concurrency(log_path),
        "cpu_ms": 1000 * (cpu_last - cpu_first) / (deliveries - count_first),
    }


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its live children (a prefork pool), all threads (/proc)."""
    total = 0.0
    for process, fields in proc_stats():
        if process == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _worker_concurrency(log_path: Path) -> str:
    for line in log_path.read_text(errors="replace").splitlines():
        if "concurrency:" in line:
            return line.split("concurrency:", 1)[1].strip()
    return "?"


# ---------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=200, help="async submissions for the latency measure")
    parser.add_argument("--deliveries", type=int, default=2000, help="backlog for the throughput measure")
    parser.add_argument("--receiver-delay-ms", type=int, default=50, help="answer delay, throughput receiver")
    parser.add_argument("--database", default="crush_whbench")
    parser.add_argument("--redis-url", help="an existing Redis (its db is flushed); default: a private one")
    parser.add_argument("--procfile", type=Path, default=PROCFILE, help="to compare other worker settings")
    parser.add_argument("--keep", action="store_true", help="keep the database and files afterwards")
    args = parser.parse_args()
    procfile = args.procfile.resolve()

    var_dir = Path(tempfile.mkdtemp(prefix="crush-bench-webhooks-"))
    processes: list[subprocess.Popen[bytes]] = []
    receivers: list[Receiver] = []
    broker_port: int | None = None
    if args.redis_url:
        import redis

        broker_url = args.redis_url
        redis.Redis.from_url(broker_url).flushdb()
    else:
        broker, broker_url = redis_start(var_dir)
        processes.append(broker)
        broker_port = int(broker_url.rsplit(":", 1)[1].split("/")[0])
    env = crush_environment(
        database=args.database,
        broker_url=broker_url,
        var_dir=str(var_dir),
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        CRUSH_ALLOW_PRIVATE_URLS="true",
    )
    os.environ.update(env)
    database_recreate(args.database)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    call_command("migrate", verbosity=0)
    for name in ("webhooks", "pyvips"):  # one INFO line per event or image otherwise
        logging.getLogger(name).setLevel(logging.WARNING)
    load_before = os.getloadavg()
    try:
        fast, slow = Receiver(0, var_dir), Receiver(args.receiver_delay_ms, var_dir)
        receivers += [fast, slow]
        for role in ("worker", "webhooks"):
            processes.append(start_role(procfile, role, env, var_dir)[0])
        print(f"latency: {args.jobs} async jobs …", flush=True)
        late = latency(fast, args.jobs)
        _stop(processes.pop())  # the webhooks worker: the backlog is written before it runs again
        print(f"throughput: {args.deliveries} deliveries, receiver {args.receiver_delay_ms} ms …", flush=True)
        rate = throughput(
            slow, args.deliveries, procfile=procfile, env=env, var_dir=var_dir, broker_port=broker_port
        )
    finally:
        for process in reversed(processes):
            _stop(process)
        for receiver in receivers:
            receiver.stop()
    load_after = os.getloadavg()

    def mark(ok: bool) -> str:
        return "✓" if ok else "✗"

    print()
    print(
        f"{platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}, load average "
        f"{load_before[0]:.1f} before / {load_after[0]:.1f} after; Procfile `worker` + `webhooks` "
        f"({rate['concurrency']}) from {procfile.name}, Redis, PostgreSQL"
    )
    print()
    print("| measure | result | target | |")
    print("|---|---|---|---|")
    print(
        f"| `completed` (ended_at) → receiver, {late['jobs']} async 64×48 JPEG jobs "
        f"({late['events']} events, {late['received']} POSTs, {late['failed']} not completed) | "
        f"p50 {late['p50'] * 1000:.0f} ms, **p99 {late['p99'] * 1000:.0f} ms** "
        f"(min {late['min'] * 1000:.0f}, max {late['max'] * 1000:.0f}) | p99 ≤ 1 s | "
        f"{mark(late['p99'] <= P99_TARGET_SECONDS)} |"
    )
    print(
        f"| dispatcher, {rate['deliveries']} queued deliveries ({rate['queued']} messages in Redis), "
        f"receiver answering in {args.receiver_delay_ms} ms, first → last arrival | **{rate['rate']:.0f}/s** "
        f"({rate['span_seconds']:.1f} s; middle 80 %: {rate['rate_middle']:.0f}/s) | ≥ 100/s | "
        f"{mark(rate['rate'] >= RATE_TARGET_PER_SECOND)} |"
    )
    print(
        f"| dispatcher, worker start → last arrival (start-up included) | "
        f"{(rate['received'] - 1) / rate['from_start_seconds']:.0f}/s ({rate['from_start_seconds']:.1f} s; "
        f"{rate['received']} POSTs, {rate['unique']} distinct ids, {rate['attempts']} attempts) | | |"
    )
    print(
        f"| webhooks worker CPU per delivery (user + system, all threads and pool processes) | "
        f"{rate['cpu_ms']:.1f} ms → at most {1000 / rate['cpu_ms']:.0f}/s on one free core | | |"
    )
    print(
        f"| pipeline, {late['jobs']} jobs: submit (services, one by one) / first submit → last completed | "
        f"{late['submit_seconds']:.1f} s / {late['pipeline_seconds']:.1f} s | | |"
    )

    connections.close_all()
    if not args.keep:
        database_recreate(args.database, create=False)
        shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "_receiver":
        receiver_main(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    else:
        main()
