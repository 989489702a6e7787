"""A worker told to stop (SIGTERM, as honcho sends on Ctrl-C of `make run`) finishes its jobs within its grace
period or hands them back to the queue, and every job then completes exactly once, without the sweeper.

Real `celery worker` processes on the run's broker (filesystem by default, Redis in CI), database and storage.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings

from compression import services
from compression.models import OriginalImage, Status
from crush.celery import app as celery_app
from crush.middleware import _request_id
from tests.compression.live_jobs import BASE, WAIT_SECONDS, assert_completed_once, wait_for
from tests.compression.pipeline_support import jpeg, options, upload
from tests.conftest import database_url

pytestmark = pytest.mark.slow


def _status_is(original: OriginalImage, *statuses: str) -> Callable[[], bool]:
    return lambda: OriginalImage.objects.filter(pk=original.pk, status__in=statuses).exists()


def _slow_job(account) -> OriginalImage:  # type: ignore[no-untyped-def]
    """Seconds of work: the balanced search on a large photo, for the original and two styles."""
    return services.original_image_submit(
        account=account,
        options=options(compression_type="balanced"),
        base_url=BASE,
        upload=upload("big.jpg", jpeg(2400, 1800)),
        synchronous=False,
    )


def test_sigterm_mid_job_lets_the_job_finish_within_the_grace_period(account, live_worker, hooks) -> None:
    # given: a worker in the middle of a job
    original = _slow_job(account)
    worker = live_worker(env={"CRUSH_WORKER_GRACE_SECONDS": "600"})
    wait_for(_status_is(original, Status.PROCESSING), workers=[worker], what="the job to start")

    # when: its process group gets SIGTERM, as from honcho
    worker.terminate()
    stopped_at = time.monotonic()
    worker.process.wait(timeout=WAIT_SECONDS)

    # then: the job ended before the worker exited, completed once
    original.refresh_from_db()
    print(f"\nSIGTERM -> worker exit {time.monotonic() - stopped_at:.1f} s; job {original.status}")
    assert original.attempts == 1
    restarted = live_worker(queues="webhooks")  # delivers the event
    assert_completed_once(original, hooks, workers=[worker, restarted])


def test_sigterm_hands_the_job_back_when_the_grace_period_is_over(account, live_worker, hooks) -> None:
    # given: a worker with no grace period, in the middle of a job submitted by request "req-graceful-0001"
    token = _request_id.set("req-graceful-0001")
    try:
        original = _slow_job(account)
    finally:
        _request_id.reset(token)
    first = live_worker(env={"CRUSH_WORKER_GRACE_SECONDS": "0"})
    wait_for(_status_is(original, Status.PROCESSING), workers=[first], what="the job to start")

    # when: it gets SIGTERM and exits, then a worker starts again
    first.terminate()
    stopped_at = time.monotonic()
    first.process.wait(timeout=WAIT_SECONDS)
    exited_after = time.monotonic() - stopped_at
    original.refresh_from_db()
    assert original.status == Status.ENQUEUED  # handed back, not left `processing` for the sweeper
    assert original.attempts == 0  # a graceful stop does not count as an attempt
    second = live_worker()
    restarted_at = time.monotonic()
    wait_for(
        _status_is(original, Status.COMPLETED, Status.FAILED), workers=[first, second], what="the job to end"
    )

    # then
    print(
        f"\nSIGTERM -> worker exit {exited_after:.1f} s; restart -> job completed "
        f"{time.monotonic() - restarted_at:.1f} s; SIGTERM -> completed {time.monotonic() - stopped_at:.1f} s"
    )
    assert_completed_once(original, hooks, workers=[first, second])
    assert f"[req-graceful-0001] original {original.id}: grace period over, handed back" in first.log()
    # both workers' log lines about the job carry the request id of the submission
    assert f"[req-graceful-0001] original {original.id} completed" in second.log()


def _procfile_line(role: str) -> str:
    for line in (settings.BASE_DIR / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == role:
            return f"{role}: {command.strip()}\n"
    raise AssertionError(f"no {role} in the Procfile")


def test_ctrl_c_on_make_run_lets_the_job_finish(account, live_worker, hooks, tmp_path) -> None:
    # given: `make run`'s honcho with the Procfile's own worker line, in the middle of a job
    procfile = tmp_path / "Procfile"
    # `other` stands for `web`: it exits at once on SIGTERM, which starts honcho's countdown to SIGKILL
    procfile.write_text(_procfile_line("worker") + "other: exec sleep 600\n")
    environment = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",  # as `make run`
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "CRUSH_VAR_DIR": str(settings.VAR_DIR),
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": str(celery_app.conf.broker_url),
        "SECRET_KEY": settings.SECRET_KEY,
        "CRUSH_WORKER_GRACE_SECONDS": "600",
        "CRUSH_WORKER_CONCURRENCY": "1",
    }
    original = _slow_job(account)
    log_path = tmp_path / "honcho.log"
    with log_path.open("wb") as log:
        honcho = subprocess.Popen(
            [sys.executable, "-m", "crush.honcho_run", "--procfile", str(procfile), "start"],
            cwd=settings.BASE_DIR,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    run = _Honcho(honcho, log_path)
    try:
        wait_for(_status_is(original, Status.PROCESSING), workers=[run], what="the job to start")

        # when: Ctrl-C (the terminal's SIGINT reaches honcho; its children run in sessions of their own)
        honcho.send_signal(signal.SIGINT)
        stopped_at = time.monotonic()
        honcho.wait(timeout=WAIT_SECONDS)
    finally:
        run.kill()

    # then: the job completed before everything exited, once
    original.refresh_from_db()
    print(f"\nSIGINT to honcho -> all exited {time.monotonic() - stopped_at:.1f} s; job {original.status}")
    assert original.status == Status.COMPLETED, run.log()[-4000:]
    assert original.attempts == 1
    webhooks = live_worker(queues="webhooks")
    assert_completed_once(original, hooks, workers=[run, webhooks])


class _Honcho:
    def __init__(self, process: subprocess.Popen[bytes], log_path) -> None:  # type: ignore[no-untyped-def]
        self.process = process
        self.log_path = log_path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILLs honcho and everything under it (its Procfile processes run in sessions of their own)."""
        for pid in [*_descendants(self.process.pid), self.process.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait()


def _descendants(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            if entry.isdigit():
                parents[int(entry)] = int(
                    Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1]
                )
    found, frontier = [], [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found
