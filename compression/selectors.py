"""Reads of compression data; every tenant read takes `account=`."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.core.files.base import File
from django.db.models import Count, Min, Prefetch, QuerySet
from django.utils import timezone

from accounts.models import Account
from compression.models import OptimizedImage, OriginalImage, Status, StoredFile
from compression.storage import file_open
from crush.lib.errors import NotFound


def original_image_list(*, account: Account) -> QuerySet[OriginalImage]:
    """Newest first, with optimized images and every file prefetched (no per-row queries)."""
    return (
        OriginalImage.objects.filter(account=account)
        .select_related("file")
        .prefetch_related(
            Prefetch(
                "optimized_images", queryset=OptimizedImage.objects.select_related("file").order_by("id")
            )
        )
        .order_by("-created_at", "-id")
    )


def original_image_get(*, account: Account, original_image_id: int) -> OriginalImage:
    original = original_image_list(account=account).filter(pk=original_image_id).first()
    if original is None:
        raise NotFound()
    return original


def stored_file_get(*, token: str) -> StoredFile:
    """The live file of a download token; NotFound when unknown, deleted or past its expiry."""
    stored = StoredFile.objects.filter(token=token, deleted_at=None, expire_at__gt=timezone.now()).first()
    if stored is None:
        raise NotFound()
    return stored


def stored_file_open(*, stored_file: StoredFile) -> File:
    try:
        return file_open(key=stored_file.key)
    except FileNotFoundError:
        raise NotFound() from None


# --- platform-wide (the operators' landing page)


def platform_job_counts(*, since: datetime.datetime) -> dict[str, int]:
    """Originals received since `since`, per status (every status, zero included)."""
    counts = dict.fromkeys(Status.values, 0)
    rows = OriginalImage.objects.filter(created_at__gte=since).values("status").annotate(n=Count("id"))
    for row in rows.order_by():
        counts[row["status"]] = row["n"]
    return counts


def platform_fallback_count(*, since: datetime.datetime) -> int:
    """Optimized images of originals received since `since` made by an engine fallback (Result.warning)."""
    return OptimizedImage.objects.filter(original__created_at__gte=since, warning__isnull=False).count()


@dataclass(frozen=True, slots=True)
class JobQueue:
    enqueued: int
    processing: int
    oldest_waiting_at: datetime.datetime | None  # created_at of the oldest enqueued original


def platform_job_queue() -> JobQueue:
    queue: dict[str, tuple[int, datetime.datetime | None]] = {
        status: (0, None) for status in (Status.ENQUEUED, Status.PROCESSING)
    }
    rows = (
        OriginalImage.objects.filter(status__in=list(queue))
        .values("status")
        .annotate(n=Count("id"), oldest=Min("created_at"))
    )
    for row in rows.order_by():
        queue[row["status"]] = (row["n"], row["oldest"])
    return JobQueue(
        enqueued=queue[Status.ENQUEUED][0],
        processing=queue[Status.PROCESSING][0],
        oldest_waiting_at=queue[Status.ENQUEUED][1],
    )
