"""Helpers of the tests that run jobs in real `celery worker` processes: submit, then wait (bounded)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from compression import services
from compression.models import OriginalImage
from tests.compression.pipeline_support import options, upload

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
