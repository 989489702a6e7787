"""The pipeline with real `celery worker` processes on the run's broker, database and storage.

Crash safety: a worker SIGKILLed mid-job, a broker that loses its queue; concurrency: 50 submissions at once.
"""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from accounts.selectors import quota_used_this_month
from compression import services
from compression.models import OptimizedImage, OriginalImage, Status, StoredFile
from compression.storage import file_read, files_storage
from tests.compression.live_jobs import all_ended, submit_async, wait_for
from tests.compression.pipeline_support import SAMPLES, decoded_size, jpeg
from tests.private_redis import (
    broker,
    free_port,
    needs_redis_server,
    producer_reset,
    queue_length,
    redis_server,
)

pytestmark = pytest.mark.slow


def _age_and_sweep(ids: list[int]) -> int:
    past = timezone.now() - datetime.timedelta(seconds=settings.CRUSH_JOB_LEASE_SECONDS + 1)
    OriginalImage.objects.filter(id__in=ids).update(updated_at=past)
    return services.stuck_jobs_sweep()


def _stored_names(prefix: str) -> list[str]:
    storage = files_storage()
    if not storage.exists(prefix) and not hasattr(storage, "bucket"):
        return []
    return sorted(storage.listdir(prefix)[1])


def test_worker_processes_every_format_with_two_styles(account, live_worker) -> None:
    # given
    originals = {fmt: submit_async(account, name, build()) for fmt, (name, _type, build) in SAMPLES.items()}
    assert {original.status for original in originals.values()} == {Status.ENQUEUED}

    # when
    worker = live_worker()
    wait_for(all_ended([o.id for o in originals.values()]), workers=[worker], what="every format to end")

    # then
    problems = []
    for fmt, original in originals.items():
        original.refresh_from_db()
        rows = list(original.optimized_images.select_related("file").order_by("id"))
        if original.status != Status.COMPLETED or any(row.status != Status.COMPLETED for row in rows):
            problems.append(f"{fmt}: {original.status} {original.error_msg} {[r.error_msg for r in rows]}")
            continue
        assert [row.style for row in rows] == ["original", "thumb", "square"]
        for row in rows:
            assert row.file is not None
            data = file_read(key=row.file.key)
            assert len(data) == row.size
            if fmt not in ("svg", "pdf"):
                assert decoded_size(data, fmt) == (row.width, row.height), (fmt, row.style)
    assert problems == []


def _slow_job(account) -> OriginalImage:  # type: ignore[no-untyped-def]
    """A job that takes seconds: the balanced search on a large photo, for every style."""
    return submit_async(account, "big.jpg", jpeg(1600, 1200), compression_type="balanced")


def _prefixes_clear(original: OriginalImage) -> None:
    """Removes leftovers of earlier runs sharing the bucket (same ids) so the listing shows only this job."""
    storage = files_storage()
    for prefix in (f"originals/{original.id}", f"optimized/{original.id}"):
        for name in _stored_names(prefix):
            assert original.file is not None
            if f"{prefix}/{name}" != original.file.key:
                storage.delete(f"{prefix}/{name}")


def test_worker_killed_mid_job_completes_exactly_once_after_restart(account, live_worker) -> None:
    # given: a worker is in the middle of the job
    original = _slow_job(account)
    _prefixes_clear(original)
    first = live_worker()
    wait_for(
        lambda: OriginalImage.objects.filter(pk=original.pk, status=Status.PROCESSING).exists(),
        workers=[first],
        what="the job to start",
    )

    # when: it dies without a word, the sweeper finds the job past its lease and a new worker starts
    first.kill()
    original.refresh_from_db()
    assert original.status == Status.PROCESSING
    assert _age_and_sweep([original.id]) == 1
    second = live_worker()
    wait_for(all_ended([original.id]), workers=[first, second], what="the job to end")

    # then: completed once — one row per style, one file per row, nothing extra in storage
    original.refresh_from_db()
    assert original.status == Status.COMPLETED, original.error_msg
    assert original.attempts == 2
    rows = list(OptimizedImage.objects.filter(original=original))
    assert sorted(row.style for row in rows) == ["original", "square", "thumb"]
    assert all(row.status == Status.COMPLETED for row in rows)
    assert StoredFile.objects.count() == 4
    assert len(_stored_names(f"optimized/{original.id}")) == 3
    assert len(_stored_names(f"originals/{original.id}")) == 1
    assert quota_used_this_month(account=account) == original.size


def test_job_that_keeps_killing_workers_fails_after_three_attempts(account, live_worker) -> None:
    original = _slow_job(account)
    workers = []
    for _attempt in range(settings.CRUSH_JOB_MAX_ATTEMPTS):
        worker = live_worker()
        workers.append(worker)
        wait_for(
            lambda: OriginalImage.objects.filter(pk=original.pk, status=Status.PROCESSING).exists(),
            workers=workers,
            what="the job to start",
        )
        worker.kill()
        _age_and_sweep([original.id])

    original.refresh_from_db()
    assert original.status == Status.FAILED
    assert original.attempts == settings.CRUSH_JOB_MAX_ATTEMPTS
    assert original.error_msg is not None
    assert "interrupted 3 times" in original.error_msg
    assert quota_used_this_month(account=account) == 0


def test_fifty_simultaneous_submissions_all_complete_and_quota_adds_up(account, live_worker) -> None:
    # given: 50 uploads arriving at once
    payloads = [jpeg(40 + index, 30 + index % 7) for index in range(50)]

    def submit(index: int) -> int:
        try:
            return submit_async(account, f"p{index}.jpg", payloads[index], resize=()).id
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=10) as pool:
        ids = list(pool.map(submit, range(50)))

    # when
    worker = live_worker(concurrency=2)
    wait_for(all_ended(ids), workers=[worker], what="50 jobs to end")

    # then
    statuses = set(OriginalImage.objects.filter(id__in=ids).values_list("status", flat=True))
    assert statuses == {Status.COMPLETED}
    assert quota_used_this_month(account=account) == sum(len(data) for data in payloads)
    assert OptimizedImage.objects.filter(original_id__in=ids).count() == 50


# --- the broker loses its queue ---------------------------------------------------------------------


@needs_redis_server
def test_broker_losing_its_queue_loses_no_accepted_job(account, live_worker, monkeypatch) -> None:
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    with broker(url, monkeypatch):
        # given: five accepted jobs whose messages sit in a Redis that keeps nothing on disk
        with redis_server(port):
            ids = [submit_async(account, f"p{index}.jpg", jpeg(50 + index, 40)).id for index in range(5)]
            assert queue_length(port, "compression") == 5

        # when: Redis restarts empty, the sweeper runs, a worker starts
        with redis_server(port):
            producer_reset()
            assert queue_length(port, "compression") == 0
            assert _age_and_sweep(ids) == 5
            worker = live_worker(env={"CELERY_BROKER_URL": url})
            wait_for(all_ended(ids), workers=[worker], what="the re-enqueued jobs to end")
            worker.stop()

    # then
    assert set(OriginalImage.objects.filter(id__in=ids).values_list("status", flat=True)) == {
        Status.COMPLETED
    }
    assert OptimizedImage.objects.filter(original_id__in=ids).count() == 15


def test_worker_refuses_to_start_when_visibility_timeout_is_not_above_the_time_limit(tmp_path) -> None:
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "CELERY_BROKER_URL": "redis://127.0.0.1:9/0",  # never contacted: the check runs before connecting
        "CRUSH_BROKER_VISIBILITY_TIMEOUT_SECONDS": "300",
        "CRUSH_JOB_TIME_LIMIT_SECONDS": "300",
        "CRUSH_VAR_DIR": str(tmp_path),
    }

    result = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "crush", "worker", "--pool=solo", "--without-mingle"],
        cwd=settings.BASE_DIR,
        env=environment,
        capture_output=True,
        timeout=120,
    )

    assert result.returncode != 0
    assert b"visibility timeout (300 s" in result.stdout + result.stderr
