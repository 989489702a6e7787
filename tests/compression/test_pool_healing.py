"""A worker's pool heals itself: a pool process that dies (SIGKILL) or is recycled
(CRUSH_WORKER_MAX_TASKS_PER_CHILD) is replaced by one that reports up at once, because the slow start-up work
(the engine's compiled kernels) was done in the worker's main process before the pool forked
(crush/celery.py). Real `celery worker` processes on the run's broker, database and storage.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from compression.models import OptimizedImage, OriginalImage, Status
from tests.compression.live_jobs import all_ended, assert_completed_once, submit_async, wait_for
from tests.compression.pipeline_support import jpeg

pytestmark = pytest.mark.slow

POOL_BACK_SECONDS = 30
RECOVERY_SECONDS = 60  # issue 13: a job whose worker died completes within 60 s of the loss being known
UP_TIMEOUT_LOG = "Timed out waiting for UP message"  # billiard killing a pool process that did not report up


def _pool_processes(worker) -> set[int]:  # type: ignore[no-untyped-def]
    """The live (not zombie) child processes of the worker's main process: its pool."""
    children = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == worker.process.pid and fields[0] != "Z":  # fields: state ppid ...
                children.add(int(entry))
    return children


def _slow_job(account) -> OriginalImage:  # type: ignore[no-untyped-def]
    """Seconds of work: the balanced search on a large photo, for the original and two styles."""
    return submit_async(account, "big.jpg", jpeg(1600, 1200), compression_type="balanced")


def _processing(original: OriginalImage) -> Callable[[], bool]:
    return lambda: OriginalImage.objects.filter(pk=original.pk, status=Status.PROCESSING).exists()


def test_killed_pool_processes_are_replaced_and_the_job_completes_once(account, live_worker, hooks) -> None:
    # given: a worker with two pool processes is in the middle of a job that takes seconds
    original = _slow_job(account)
    worker = live_worker(concurrency=2)
    wait_for(_processing(original), workers=[worker], what="the job to start")
    wait_for(lambda: len(_pool_processes(worker)) == 2, workers=[worker], what="the pool to start")
    killed = _pool_processes(worker)
    original.refresh_from_db()
    assert original.claimed_by.rpartition(":")[2] in {str(pid) for pid in killed}

    # when: its pool processes die without a word (one of them runs the job)
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()

    # then: the pool is back to two processes, none of them a killed one, within 30 s
    wait_for(
        lambda: len(_pool_processes(worker) - killed) == 2,
        workers=[worker],
        what="the pool to be back to full size",
        seconds=POOL_BACK_SECONDS,
    )
    pool_back = time.monotonic() - killed_at
    # and the job, whose message the worker gave back to the broker, is taken over by a new process at once
    # (its claimer is known dead: not after the lease, CRUSH_JOB_LEASE_SECONDS) and completes exactly once
    assert settings.CRUSH_JOB_LEASE_SECONDS > RECOVERY_SECONDS
    wait_for(all_ended([original.id]), workers=[worker], what="the job to end", seconds=RECOVERY_SECONDS)
    print(f"\npool SIGKILL -> pool back {pool_back:.1f} s, job ended {time.monotonic() - killed_at:.1f} s")
    assert_completed_once(original, hooks, workers=[worker])
    assert original.attempts == 2
    assert f"original {original.id}: its run in " in worker.log()  # taken over, not waiting for the lease
    assert _pool_processes(worker).isdisjoint(killed)
    assert len(_pool_processes(worker)) == 2
    assert UP_TIMEOUT_LOG not in worker.log()


def test_a_worker_killed_and_started_again_runs_its_job_at_once(account, live_worker, hooks) -> None:
    # given: a worker (main process and pool) is in the middle of a job
    original = _slow_job(account)
    name = f"again-{os.getpid()}@%h"
    first = live_worker(hostname=name)
    wait_for(_processing(original), workers=[first], what="the job to start")

    # when: it is SIGKILLed (nothing acknowledged, nothing handed back) and started again under its node name
    first.kill()
    original.refresh_from_db()
    assert original.status == Status.PROCESSING
    second = live_worker(hostname=name)
    started_at = time.monotonic()
    wait_for(lambda: " ready." in second.log(), workers=[first, second], what="the worker to be back")
    ready_at = time.monotonic()

    # then: the job is handed back as the worker starts (not after the lease, nor the broker's visibility
    # timeout) and completes exactly once; the interrupted run counts as an attempt
    wait_for(
        all_ended([original.id]), workers=[first, second], what="the job to end", seconds=RECOVERY_SECONDS
    )
    print(
        f"\nworker started again -> ready {ready_at - started_at:.1f} s, "
        f"job completed {time.monotonic() - ready_at:.1f} s after ready"
    )
    assert_completed_once(original, hooks, workers=[first, second])
    assert original.attempts == 2
    assert f"original {original.id}: its run" in second.log()


def test_recycled_pool_processes_keep_the_pool_running(account, live_worker) -> None:
    # given: 50 small jobs and a worker whose processes are replaced after every 5 jobs (20 replacements)
    ids = []
    for index in range(50):
        ids.append(submit_async(account, f"p{index}.jpg", jpeg(40 + index, 30 + index % 7), resize=()).id)
    connection.close()

    # when
    worker = live_worker(concurrency=2, env={"CRUSH_WORKER_MAX_TASKS_PER_CHILD": "5"})
    started_at = time.monotonic()

    # then: every job completes, and no new process was killed for not reporting up
    wait_for(all_ended(ids), workers=[worker], what="50 jobs to end")
    print(f"\n50 jobs, a new pool process every 5: all ended {time.monotonic() - started_at:.1f} s")
    statuses = set(OriginalImage.objects.filter(id__in=ids).values_list("status", flat=True))
    assert statuses == {Status.COMPLETED}
    assert OptimizedImage.objects.filter(original_id__in=ids).count() == 50
    log = worker.log()
    assert UP_TIMEOUT_LOG not in log
    assert "engine loaded for the pool" in log


def test_the_sweeper_runs_on_a_queue_no_compression_worker_has_to_free() -> None:
    # given
    from crush.celery import app

    procfile = (Path(settings.BASE_DIR) / "Procfile").read_text().splitlines()
    queues_by_role = {
        line.split(":", 1)[0]: line.split("--queues ", 1)[1].split()[0].split(",")
        for line in procfile
        if "--queues " in line
    }

    # when
    route = app.amqp.router.route({}, "compression.tasks.stuck_jobs_sweep_task")

    # then: its queue is consumed by a worker that takes no compression jobs
    queue = route["queue"].name
    assert queue != "compression"
    consumers = [role for role, queues in queues_by_role.items() if queue in queues]
    assert consumers
    assert all("compression" not in queues_by_role[role] for role in consumers)
