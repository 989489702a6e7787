"""A worker's pool heals itself: a pool process that dies (SIGKILL) or is recycled
(CRUSH_WORKER_MAX_TASKS_PER_CHILD) is replaced by one that reports up at once, because the slow start-up work
(the engine's compiled kernels) was done in the worker's main process before the pool forked
(crush/celery.py). Real `celery worker` processes on the run's broker, database and storage.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import signal
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from compression import services
from compression.models import OptimizedImage, OriginalImage, Status, StoredFile
from tests.compression.live_jobs import all_ended, submit_async, wait_for
from tests.compression.pipeline_support import jpeg

pytestmark = pytest.mark.slow

POOL_BACK_SECONDS = 30
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


def test_killed_pool_processes_are_replaced_and_the_job_completes_once(account, live_worker) -> None:
    # given: a worker with two pool processes is in the middle of a job that takes seconds
    original = submit_async(account, "big.jpg", jpeg(1600, 1200), compression_type="balanced")
    worker = live_worker(concurrency=2)
    wait_for(
        lambda: OriginalImage.objects.filter(pk=original.pk, status=Status.PROCESSING).exists(),
        workers=[worker],
        what="the job to start",
    )
    wait_for(lambda: len(_pool_processes(worker)) == 2, workers=[worker], what="the pool to start")
    killed = _pool_processes(worker)

    # when: its pool processes die without a word (one of them runs the job)
    for pid in killed:
        os.kill(pid, signal.SIGKILL)

    # then: the pool is back to two processes, none of them a killed one, within 30 s
    wait_for(
        lambda: len(_pool_processes(worker) - killed) == 2,
        workers=[worker],
        what="the pool to be back to full size",
        seconds=POOL_BACK_SECONDS,
    )
    # and the job, re-enqueued once its loss is known (here: by the sweeper, its lease made to pass), is run
    # by the new processes and completes exactly once
    past = timezone.now() - datetime.timedelta(seconds=settings.CRUSH_JOB_LEASE_SECONDS + 1)
    OriginalImage.objects.filter(pk=original.pk, status=Status.PROCESSING).update(updated_at=past)
    services.stuck_jobs_sweep()
    wait_for(all_ended([original.id]), workers=[worker], what="the job to end")
    original.refresh_from_db()
    assert original.status == Status.COMPLETED, original.error_msg
    rows = list(OptimizedImage.objects.filter(original=original))
    assert sorted(row.style for row in rows) == ["original", "square", "thumb"]
    assert all(row.status == Status.COMPLETED for row in rows)
    assert StoredFile.objects.count() == 4  # the original and one file per style: nothing written twice
    assert _pool_processes(worker).isdisjoint(killed)
    assert len(_pool_processes(worker)) == 2
    assert UP_TIMEOUT_LOG not in worker.log()


def test_recycled_pool_processes_keep_the_pool_running(account, live_worker) -> None:
    # given: 30 small jobs and a worker whose processes are replaced after every 5 jobs (12 replacements)
    ids = []
    for index in range(30):
        ids.append(submit_async(account, f"p{index}.jpg", jpeg(40 + index, 30 + index % 7), resize=()).id)
    connection.close()

    # when
    worker = live_worker(concurrency=2, env={"CRUSH_WORKER_MAX_TASKS_PER_CHILD": "5"})

    # then: every job completes, and no new process was killed for not reporting up
    wait_for(all_ended(ids), workers=[worker], what="30 jobs to end")
    statuses = set(OriginalImage.objects.filter(id__in=ids).values_list("status", flat=True))
    assert statuses == {Status.COMPLETED}
    assert OptimizedImage.objects.filter(original_id__in=ids).count() == 30
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
