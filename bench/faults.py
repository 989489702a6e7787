"""Fault benchmark (issue 13): how fast the production stack recovers from a dead worker and an emptied Redis.

    .venv/bin/python bench/faults.py [--runs 3] [--scenarios A,B] [--timeout 300] [--outage 30]

Runs the Procfile's processes as subprocesses, each in a session of its own: `web` (gunicorn, on a free
loopback port), `worker` (its command without `nice`, with a fixed `-n worker@%h` so that a restarted worker
has the same node name), `sync` (idle here), `webhooks` (also the maintenance queue: the sweeper) and
`beat`, on PostgreSQL (database `crush_faultbench`, dropped and created again) and a private `redis-server` on
a free port with no persistence, which is both the broker and the cache. Files go to a temporary directory.
Jobs are submitted through the HTTP API (POST /v1/original_images, multipart), each run with an account of
its own.

A. Worker SIGKILL mid-job: one async `balanced` job on a synthetic 4000×3000 photo-like JPEG (≈ 10 s of
   engine time); when its row is `processing`, every process of the worker's session (main process and pool
   processes, which have process groups of their own) is SIGKILLed, then the worker is started again with
   the same command. Measured: seconds from the new worker's "ready" log line to the job's `ended_at`
   (target ≤ 60 s); also the job's attempts and its consumption (the ledger must count it once).
B. Redis restarted empty with 10 queued jobs: two such long jobs keep the worker's two processes busy, ten
   small `balanced` jobs (1200×900) are submitted and wait in Redis (checked: LLEN compression = 10), then
   redis-server is SIGKILLed, left down `--outage` seconds (default 30) and started again, empty, on the same
   port. Every process keeps running throughout. Measured: seconds from the new Redis accepting connections
   to the last of the ten `ended_at` (target ≤ 60 s); which processes exited; the API's answers to a read
   (GET /v1/original_images/<id>) polled once a second during the outage.

Every wait is bounded by `--timeout` seconds per run ("not within N s" is reported instead); the jobs of a
run that did not end are then marked `failed` so they do not run during the next run, and a process that
exited is started again. `--env KEY=VALUE` passes a setting to every process (e.g. a shorter
CRUSH_JOB_LEASE_SECONDS to check the harness quickly); figures are meant with the defaults, and any
`--env` is printed with them.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import logging
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# bench/ is the script's directory
from services_env import crush_environment, database_recreate, free_port, port_open, proc_stats

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
PROCFILE = ROOT / "Procfile"
TARGET_SECONDS = 60.0
QUEUED_JOBS = 10
LONG_SIZE = (4000, 3000)  # ≈ 10 s of `balanced` on one core
SMALL_SIZE = (1200, 900)  # ≈ 1 s
POLL_SECONDS = 0.25
ROLES = ("web", "worker", "sync", "webhooks", "beat")  # those the Procfile has


# ---------------------------------------------------------------- processes


def _wait_until(check: Any, timeout: float) -> bool:
    """True as soon as `check()` is, False after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL_SECONDS)
    return True


def _session_pids(session: int) -> list[int]:
    """Every live process of a session (a Celery pool process leaves its parent's group, not its session)."""
    return [pid for pid, fields in proc_stats() if int(fields[3]) == session and fields[0] != "Z"]


def procfile_has(procfile: Path, role: str) -> bool:
    return any(line.partition(":")[0].strip() == role for line in procfile.read_text().splitlines())


def procfile_command(procfile: Path, role: str) -> str:
    for line in procfile.read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == role:
            return command.strip().removeprefix("exec ")
    raise SystemExit(f"no `{role}` process in the Procfile")


def role_command(procfile: Path, role: str, port: int) -> str:
    command = procfile_command(procfile, role)
    if role == "web":
        return command.replace("0.0.0.0:", "127.0.0.1:").replace("${PORT:-8000}", str(port))
    if role == "worker":
        command = re.sub(r"^nice -n \S+ ", "", command)  # the benchmark measures recovery, not priority
        if not re.search(r"(^| )(-n|--hostname)[ =]", command):
            command += " -n worker@%h"  # the same node name before and after the kill
    return command


@dataclass
class Stack:
    procfile: Path
    env: dict[str, str]
    directory: Path
    web_port: int = field(default_factory=free_port)
    redis_port: int = field(default_factory=free_port)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = self.directory / f"{name}-{time.monotonic_ns()}.log"
        with log.open("wb") as handle:
            self.processes[name] = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=self.env,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.logs[name] = log

    def redis_start(self) -> float:
        """Starts an empty redis-server on the stack's port; returns the moment it accepts connections."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("redis-server is not on PATH")
        self._spawn(
            "redis",
            [
                binary,
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
        )
        if not _wait_until(lambda: port_open(self.redis_port), 30):
            raise SystemExit("redis-server did not accept connections within 30 s")
        return time.time()

    def start(self, role: str, timeout: float = 180) -> float:
        """Starts a Procfile role and returns the moment it is up (its log says so, or web answers)."""
        command = role_command(self.procfile, role, self.web_port)
        self._spawn(role, ["/bin/sh", "-c", f"exec {command}"])
        if not _wait_until(lambda: self.up(role) or not self.alive(role), timeout) or not self.alive(role):
            raise SystemExit(f"{role} did not come up within {timeout:.0f} s:\n{self.log_tail(role)}")
        return time.time()

    def up(self, role: str) -> bool:
        if role == "web":
            import requests

            with contextlib.suppress(requests.RequestException):
                return requests.get(f"{self.base}/health/live", timeout=1).status_code == 200
            return False
        marker = b"beat: Starting" if role == "beat" else b" ready."
        return marker in self.logs[role].read_bytes()

    def alive(self, role: str) -> bool:
        return self.processes[role].poll() is None

    def log_tail(self, role: str, size: int = 3000) -> str:
        return self.logs[role].read_text(errors="replace")[-size:]

    def kill(self, role: str) -> None:
        """SIGKILL to every process of the role's session, as when its machine or container dies."""
        process = self.processes[role]
        for pid in _session_pids(process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.wait(timeout=30)
        if not _wait_until(lambda: not _session_pids(process.pid), 30):
            raise SystemExit(f"{role}: processes still alive 30 s after SIGKILL")

    def stop(self, role: str) -> None:
        """SIGTERM to the main process (a worker stops gracefully), SIGKILL to the session after 90 s."""
        process = self.processes[role]
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=90)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.kill(role)

    def stop_all(self) -> None:
        for role in reversed(list(self.processes)):
            self.stop(role)


# ---------------------------------------------------------------- jobs


def photo_like_jpeg(width: int, height: int, seed: int) -> bytes:
    """Gradients under blurred noise: no corpus needed, and `balanced` has real work to do on it."""
    import pyvips

    xyz = pyvips.Image.xyz(width, height)
    red, green = xyz[0] * 255 / width, xyz[1] * 255 / height
    noise = pyvips.Image.gaussnoise(width, height, sigma=40, mean=128 + seed % 16).gaussblur(1.5)
    image = red.bandjoin([green, (red + green) / 2]) * 0.6 + noise * 0.4
    return bytes(image.cast("uchar").copy(interpretation="srgb").jpegsave_buffer(Q=95))


def account_token(login: str) -> tuple[int, str]:
    from accounts.services import account_create, api_token_create

    account = account_create(login=login, file_max_size=64 * 2**20)
    account.plan_bytes = None  # unlimited: the quota is not what is measured
    account.save(update_fields=["plan_bytes"])
    return account.id, api_token_create(account=account).raw


def submit(stack: Stack, token: str, name: str, data: bytes) -> int:
    import requests

    response = requests.post(
        f"{stack.base}/v1/original_images",
        headers={"Authorization": f"Bearer {token}"},
        files={"file": (name, data, "image/jpeg")},
        data={"compression_type": "balanced", "origin": "faultbench"},
        timeout=60,
    )
    if response.status_code != 200:
        raise SystemExit(f"POST /v1/original_images: {response.status_code} {response.text[:300]}")
    return int(response.json()["original_image"]["id"])


def _rows(ids: list[int]) -> list[Any]:
    from compression.models import OriginalImage

    return list(OriginalImage.objects.filter(id__in=ids).order_by("id"))


def _ended(ids: list[int]) -> bool:
    from compression.models import ENDED_STATUSES, OriginalImage

    return OriginalImage.objects.filter(id__in=ids, status__in=ENDED_STATUSES).count() == len(ids)


def _processing(ids: list[int]) -> bool:
    from compression.models import OriginalImage, Status

    return OriginalImage.objects.filter(id__in=ids, status=Status.PROCESSING).count() == len(ids)


def _give_up(ids: list[int]) -> None:
    """Jobs a run left unfinished end `failed`, so that they do not take the worker during the next run."""
    from django.utils import timezone

    from compression.models import ENDED_STATUSES, OriginalImage, Status

    OriginalImage.objects.filter(id__in=ids).exclude(status__in=ENDED_STATUSES).update(
        status=Status.FAILED, error_msg="faultbench: not ended in time", ended_at=timezone.now()
    )


def _consumption(account_id: int) -> int:
    from django.db.models import Sum

    from accounts.models import ConsumptionDay

    return int(ConsumptionDay.objects.filter(account_id=account_id).aggregate(n=Sum("files"))["n"] or 0)


def _revive(stack: Stack, roles: list[str]) -> list[str]:
    """Starts again every role that exited; returns their names with exit codes."""
    revived = []
    for role in roles:
        if not stack.alive(role):
            revived.append(f"{role} (exit {stack.processes[role].returncode})")
            stack.start(role)
    return revived


# ---------------------------------------------------------------- scenarios


def worker_kill(stack: Stack, run: int, timeout: float) -> dict[str, Any]:
    account_id, token = account_token(f"faultbench-a{run}")
    original_id = submit(stack, token, f"a{run}.jpg", photo_like_jpeg(*LONG_SIZE, seed=run))
    result: dict[str, Any] = {"run": run, "original": original_id}
    if not _wait_until(lambda: _processing([original_id]), timeout):
        _give_up([original_id])
        return {**result, "error": f"not processing within {timeout:.0f} s"}
    time.sleep(1.0)  # into the job: decoded, the search started
    (row,) = _rows([original_id])
    result.update(claimed_by=row.claimed_by, status_at_kill=row.status)
    killed_at = time.time()
    stack.kill("worker")
    back_at = stack.start("worker")
    result["restart_seconds"] = back_at - killed_at
    completed = _wait_until(lambda: _ended([original_id]), timeout)
    (row,) = _rows([original_id])
    result.update(
        status=row.status,
        attempts=row.attempts,
        consumption=_consumption(account_id),
        seconds=row.ended_at.timestamp() - back_at if completed and row.ended_at else None,
    )
    if not completed:
        _give_up([original_id])
    return result


def redis_restart(stack: Stack, run: int, timeout: float, outage: float) -> dict[str, Any]:
    import redis
    import requests

    account_id, token = account_token(f"faultbench-b{run}")
    result: dict[str, Any] = {"run": run, "outage": outage}
    blockers = [
        submit(stack, token, f"b{run}-long{index}.jpg", photo_like_jpeg(*LONG_SIZE, seed=run + index))
        for index in range(2)
    ]
    if not _wait_until(lambda: _processing(blockers), timeout):
        _give_up(blockers)
        return {**result, "error": f"the two long jobs not processing within {timeout:.0f} s"}
    small = photo_like_jpeg(*SMALL_SIZE, seed=run)
    ids = [submit(stack, token, f"b{run}-{index}.jpg", small) for index in range(QUEUED_JOBS)]
    broker = redis.Redis(host="127.0.0.1", port=stack.redis_port)
    _wait_until(lambda: broker.llen("compression") >= QUEUED_JOBS, 10)
    result["queued"] = int(broker.llen("compression"))
    result["blockers_busy"] = _processing(blockers)
    roles = [role for role in stack.processes if role != "redis"]

    stack.kill("redis")
    answers: collections.Counter[str] = collections.Counter()
    down_until = time.monotonic() + outage
    while time.monotonic() < down_until:
        try:
            response = requests.get(
                f"{stack.base}/v1/original_images/{ids[0]}",
                headers={"Authorization": f"Bearer {token}"},
                timeout=max(0.5, down_until - time.monotonic()),
            )
            answers[str(response.status_code)] += 1
        except requests.RequestException:
            answers["no answer"] += 1
        time.sleep(min(1.0, max(0.0, down_until - time.monotonic())))
    back_at = stack.redis_start()
    result["answers"] = dict(answers)

    completed = _wait_until(lambda: _ended(ids) or not all(stack.alive(role) for role in roles), timeout)
    if completed and not _ended(ids):  # a process exited: the others get the rest of the time
        completed = _wait_until(lambda: _ended(ids), max(0.0, timeout - (time.time() - back_at)))
    rows = _rows(ids)
    ended = [row.ended_at.timestamp() for row in rows if row.ended_at]
    time.sleep(2.0)  # a process about to exit on the reconnection
    result.update(
        exited=[
            f"{role} (exit {stack.processes[role].returncode})" for role in roles if not stack.alive(role)
        ],
        completed=sum(row.status == "completed" for row in rows),
        attempts=sum(row.attempts for row in rows),
        consumption=_consumption(account_id),
        completed_all=sum(row.status == "completed" for row in _rows(ids + blockers)),
        seconds=max(ended) - back_at if completed else None,
    )
    if not completed:
        _give_up(ids + blockers)
    return result


# ---------------------------------------------------------------- main


def _figure(seconds: float | None, timeout: float) -> str:
    if seconds is None:
        return f"not within {timeout:.0f} s ✗"
    return f"**{seconds:.1f} s** {'✓' if seconds <= TARGET_SECONDS else '✗'}"


def report(
    kills: list[dict[str, Any]], restarts: list[dict[str, Any]], timeout: float, outage: float
) -> None:
    if kills:
        print()
        print(
            "| A: worker SIGKILL mid-job | worker back → job ended (target ≤ 60 s) | kill → worker ready "
            "| status | attempts | consumption (files) | processes started again |"
        )
        print("|---|---|---|---|---|---|---|")
        for row in kills:
            if "error" in row:
                print(f"| run {row['run']} | {row['error']} | | | | | |")
                continue
            print(
                f"| run {row['run']} (original {row['original']}, {row['status_at_kill']} when killed) | "
                f"{_figure(row['seconds'], timeout)} | {row['restart_seconds']:.1f} s | {row['status']} | "
                f"{row['attempts']} | {row['consumption']} | {', '.join(row['revived']) or 'none'} |"
            )
    if restarts:
        print()
        print(
            f"| B: Redis SIGKILLed, {outage:.0f} s down, restarted empty | Redis back → {QUEUED_JOBS} queued "
            "jobs ended (target ≤ 60 s) | in Redis before | completed | attempts | consumption (files) of "
            "completed jobs (+2 long) | processes exited | GET during the outage |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for row in restarts:
            if "error" in row:
                print(f"| run {row['run']} | {row['error']} | | | | | | |")
                continue
            answers = ", ".join(f"{code}×{count}" for code, count in sorted(row["answers"].items()))
            print(
                f"| run {row['run']} | {_figure(row['seconds'], timeout)} | {row['queued']} | "
                f"{row['completed']}/{QUEUED_JOBS} | {row['attempts']} | "
                f"{row['consumption']} of {row['completed_all']} | {', '.join(row['exited']) or 'none'} | "
                f"{answers} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3, help="runs of each scenario")
    parser.add_argument("--scenarios", default="A,B", help="A (worker SIGKILL), B (Redis restarted empty)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds a run may wait for recovery")
    parser.add_argument("--outage", type=float, default=30, help="seconds Redis stays down (scenario B)")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="for every process")
    parser.add_argument("--database", default="crush_faultbench")
    parser.add_argument("--procfile", type=Path, default=PROCFILE)
    parser.add_argument("--keep", action="store_true", help="keep the database, files and logs afterwards")
    args = parser.parse_args()
    scenarios = {name.strip().upper() for name in args.scenarios.split(",")}
    extra = dict(item.split("=", 1) for item in args.env)

    directory = Path(tempfile.mkdtemp(prefix="crush-bench-faults-"))
    stack = Stack(procfile=args.procfile.resolve(), env={}, directory=directory)
    broker_url = f"redis://127.0.0.1:{stack.redis_port}/0"
    stack.env = crush_environment(
        database=args.database,
        broker_url=broker_url,
        var_dir=str(directory),
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        CRUSH_RATE_LIMIT="1000000/min",
        WEB_CONCURRENCY="2",
        **extra,
    )
    os.environ.update(stack.env)
    database_recreate(args.database)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    logging.getLogger("pyvips").setLevel(logging.WARNING)  # one INFO line per operation otherwise
    call_command("migrate", verbosity=0)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    load_before = os.getloadavg()
    kills: list[dict[str, Any]] = []
    restarts: list[dict[str, Any]] = []
    roles = [role for role in ROLES if procfile_has(stack.procfile, role)]
    try:
        stack.redis_start()
        for role in roles:
            stack.start(role)
        for run in range(1, args.runs + 1):
            if "A" in scenarios:
                print(f"A{run}: worker SIGKILL mid-job …", flush=True)
                kills.append(worker_kill(stack, run, args.timeout))
                kills[-1]["revived"] = _revive(stack, roles)
                print(f"  {kills[-1]}", flush=True)
            if "B" in scenarios:
                print(
                    f"B{run}: Redis restarted empty, {args.outage:.0f} s down, {QUEUED_JOBS} queued …",
                    flush=True,
                )
                restarts.append(redis_restart(stack, run, args.timeout, args.outage))
                restarts[-1]["revived"] = _revive(stack, roles)
                print(f"  {restarts[-1]}", flush=True)
    finally:
        stack.stop_all()
        connections.close_all()
    load_after = os.getloadavg()

    print()
    print(
        f"{platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}, commit {commit}, "
        f"load average {load_before[0]:.1f} before / {load_after[0]:.1f} after; Procfile {' + '.join(roles)} "
        "(worker without nice, -n worker@%h), private Redis (broker and cache), PostgreSQL, "
        "local files" + (f"; non-default settings: {' '.join(args.env)}" if args.env else "")
    )
    report(kills, restarts, args.timeout, args.outage)
    if args.keep:
        print(f"\nlogs and files: {directory}")
    else:
        database_recreate(args.database, create=False)
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
