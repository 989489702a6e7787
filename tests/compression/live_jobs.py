"""Helpers of the tests that run jobs in real `celery worker` processes: submit, then wait (bounded)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from accounts.models import ConsumptionDay
from compression import services
from compression.models import OptimizedImage, OriginalImage, Status, StoredFile
from tests.compression.pipeline_support import options, upload
from webhooks.models import WebhookEvent

BASE = "https://crush.test"
WAIT_SECONDS = 240  # an upper bound for a stalled run, not a timing assertion: 2 cores shared by many runs


def wait_for(
    predicate: Callable[[], bool], *, workers: list, what: str, seconds: float = WAIT_SECONDS
) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            logs = "\n".join(worker.log()[-4000:] for worker in workers)
            pytest.fail(f"gave up waiting for {what}; worker logs:\n{logs}")
        time.sleep(0.1)


def all_ended(ids: list[int]) -> Callable[[], bool]:
    return lambda: (
        not OriginalImage.objects.filter(id__in=ids).exclude(status__in=["completed", "failed"]).exists()
    )


def submit_async(account, name: str, data: bytes, **option_overrides: object) -> OriginalImage:  # type: ignore[no-untyped-def]
    return services.original_image_submit(
        account=account,
        options=options(**{"compression_type": "lossy", **option_overrides}),
        base_url=BASE,
        upload=upload(name, data),
        synchronous=False,
    )


def assert_completed_once(original: OriginalImage, hooks: list[bytes] | None, *, workers: list) -> None:
    """The job (original + "thumb" + "square", alone in the test database) completed, and exactly once: one
    file per row, counted once in the ledger, one webhook event delivered once (when `hooks` listens)."""
    original.refresh_from_db()
    assert original.status == Status.COMPLETED, original.error_msg
    assert original.claimed_by == ""
    rows = list(OptimizedImage.objects.filter(original=original))
    assert sorted(row.style for row in rows) == ["original", "square", "thumb"]
    assert all(row.status == Status.COMPLETED for row in rows)
    assert StoredFile.objects.count() == 4  # the original and one file per style
    assert [(day.files, day.optimized_files) for day in ConsumptionDay.objects.all()] == [(1, 3)]
    if hooks is None:
        return
    assert WebhookEvent.objects.filter(image_id=original.id).count() == 1
    wait_for(lambda: len(hooks) >= 1, workers=workers, what="the webhook delivery")
    assert len(hooks) == 1


def process_inline(account, name: str, data: bytes, **option_overrides: object) -> OriginalImage:  # type: ignore[no-untyped-def]
    """Submits asynchronously without running the enqueued task, then runs the job inline (as a worker)."""
    original = submit_async(account, name, data, **option_overrides)
    services.original_image_process(original_image_id=original.id)
    original.refresh_from_db()
    return original
