"""Reads of compression data; every tenant read takes `account=`."""

from __future__ import annotations

from django.core.files.base import File
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from accounts.models import Account
from compression.models import OptimizedImage, OriginalImage, StoredFile
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
