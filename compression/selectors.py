"""Reads of compression data; every tenant read takes `account=`."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass

from django.core.files.base import File
from django.db.models import Count, Min, Prefetch, QuerySet
from django.utils import timezone

from accounts.models import Account
from compression.models import Export, ExportType, OptimizedImage, OriginalImage, Status, StoredFile
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


# --- exports


def export_latest(*, account: Account) -> Export | None:
    exports = Export.objects.filter(account=account).select_related("file")
    return exports.order_by("-created_at", "-id").first()


@dataclass(frozen=True, slots=True)
class ExportSource:
    """A live stored file to export: an original's upload (`style` None) or an optimized image's output."""

    original_id: int
    style: str | None
    filename: str
    key: str
    size_bytes: int
    created_at: datetime.datetime


EXPORT_ROWS_PER_QUERY = 2000  # rows fetched at a time: an account's list is never held whole in memory


def export_sources(*, account: Account, export_type: str) -> Iterator[ExportSource]:
    """The account's live files of that type (not deleted, not expired), by original then style: its optimized
    images' completed outputs, or its originals' uploads (whatever their job's status)."""
    live = {"file__deleted_at": None, "file__expire_at__gt": timezone.now()}
    fields = ("file__filename", "file__key", "file__size", "file__created_at")
    if export_type == ExportType.ORIGINAL:
        originals = OriginalImage.objects.filter(account=account, file__isnull=False, **live).order_by("id")
        uploads = originals.values_list("id", *fields)
        for original_id, *stored in uploads.iterator(chunk_size=EXPORT_ROWS_PER_QUERY):
            yield ExportSource(original_id, None, *stored)
        return
    optimized = OptimizedImage.objects.filter(
        original__account=account, status=Status.COMPLETED, file__isnull=False, **live
    ).order_by("original_id", "id")
    outputs = optimized.values_list("original_id", "style", *fields)
    for original_id, style, *stored in outputs.iterator(chunk_size=EXPORT_ROWS_PER_QUERY):
        yield ExportSource(original_id, style, *stored)


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
