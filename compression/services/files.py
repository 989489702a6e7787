"""Stored files of originals and outputs: written under deterministic keys, deleted, expired."""

from __future__ import annotations

import hashlib
import logging
import posixpath
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from accounts.services import quota_reserve
from compression import engine
from compression.engine import (
    Format,
)
from compression.models import OptimizedImage, OriginalImage, Status, StoredFile
from compression.services.lifecycle import OriginalGone
from compression.storage import (
    StorageUnavailable,
    file_delete,
    file_put,
    optimized_key,
    original_key,
)

logger = logging.getLogger(__name__)

_LEVEL_FIELD = {
    Format.JPEG: "compression_level_jpg",
    Format.PNG: "compression_level_png",
    Format.GIF: "compression_level_gif",
}


def original_store(*, original: OriginalImage, data: bytes, probe: engine.Probe) -> None:
    """Reserves quota for `data`, stores it and fills the original's file fields (inside a transaction)."""
    original.quota_month = quota_reserve(account=original.account, size_bytes=len(data))
    fmt = probe.format
    level = original.compression_level or getattr(
        original.account, _LEVEL_FIELD.get(fmt, "compression_level_jpg")
    )
    key = file_put(key=original_key(original_id=original.id, extension=fmt.extension), data=data)
    original.file = StoredFile.objects.create(
        key=key,
        filename=original.filename,
        content_type=fmt.mime,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        expire_at=original.expire_at,
    )
    original.size = len(data)
    original.width, original.height = probe.width, probe.height
    original.file_type = fmt.mime
    original.compression_level = level
    original.save(
        update_fields=[
            "quota_month",
            "file",
            "size",
            "width",
            "height",
            "file_type",
            "compression_level",
            "updated_at",
        ]
    )
    original.optimized_images.all().update(compression_level=level, file_type=fmt.mime)


def optimized_complete(
    *, original: OriginalImage, optimized: OptimizedImage, result: engine.Result, fmt: Format, kept: bool
) -> None:
    key = file_put(
        key=optimized_key(original_id=original.id, style=optimized.style, extension=result.format.extension),
        data=result.data,
    )
    filename = optimized.filename or original.filename
    if result.format is not fmt:  # converted: the name follows the output's format
        filename = f"{posixpath.splitext(filename)[0] or 'image'}.{result.format.extension}"
    with transaction.atomic():
        if not OriginalImage.objects.select_for_update(of=("self",)).filter(pk=original.id).exists():
            file_delete(key=key)
            raise OriginalGone()
        # One INSERT … ON CONFLICT (key) DO UPDATE: a re-run overwrites the row of its earlier file (same key,
        # its token kept), a first run creates it — no SELECT and savepoints as update_or_create costs.
        (stored,) = StoredFile.objects.bulk_create(
            [
                StoredFile(
                    key=key,
                    filename=filename,
                    content_type=result.format.mime,
                    size=len(result.data),
                    sha256=hashlib.sha256(result.data).hexdigest(),
                    expire_at=optimized.expire_at,
                    deleted_at=None,
                )
            ],
            update_conflicts=True,
            unique_fields=["key"],
            update_fields=["filename", "content_type", "size", "sha256", "expire_at", "deleted_at"],
        )
        OptimizedImage.objects.filter(pk=optimized.pk).update(
            status=Status.COMPLETED,
            error_msg=None,
            size=len(result.data),
            width=result.width,
            height=result.height,
            ssimulacra2=result.ssimulacra2,
            file=stored,
            file_type=result.format.mime,
            filename=filename,
            candidates=[tried._asdict() for tried in result.candidates],
            kept_original=kept,
            warning=result.warning,
            updated_at=timezone.now(),
        )


def original_image_delete(*, original_image: OriginalImage) -> None:
    """Deletes the original, its optimized images and every stored file they point at."""
    original_images_delete(originals=OriginalImage.objects.filter(pk=original_image.pk))


def original_images_delete_all(*, account: Account) -> int:
    return original_images_delete(originals=OriginalImage.objects.filter(account=account))


def original_images_delete(*, originals: Any) -> int:
    """Deletes a queryset of originals with their rows and files; the storage objects go after the commit."""
    with transaction.atomic():
        ids = list(originals.values_list("id", flat=True))
        files = StoredFile.objects.filter(id__in=_file_ids(ids))
        keys = list(files.filter(deleted_at=None).values_list("key", flat=True))
        OriginalImage.objects.filter(id__in=ids).delete()
        files.delete()
        transaction.on_commit(lambda: _keys_delete(keys))
    return len(ids)


def stored_files_delete(*, originals: Any) -> int:
    """Removes the stored files of originals but keeps their rows (admin "delete files"); links answer 404."""
    ids = list(originals.values_list("id", flat=True))
    return stored_files_expire(files=StoredFile.objects.filter(id__in=_file_ids(ids), deleted_at=None))


def _file_ids(original_ids: list[int]) -> set[int]:
    """The stored files of these originals and of their optimized images."""
    return set(
        OriginalImage.objects.filter(id__in=original_ids, file__isnull=False).values_list(
            "file_id", flat=True
        )
    ) | set(
        OptimizedImage.objects.filter(original_id__in=original_ids, file__isnull=False).values_list(
            "file_id", flat=True
        )
    )


def _keys_delete(keys: list[str]) -> None:
    for key in keys:
        try:
            file_delete(key=key)
        except StorageUnavailable:
            logger.warning("could not delete stored file %s; it will stay orphaned", key)


def stored_files_expire(*, files: Any) -> int:
    count = 0
    for stored in files.only("id", "key").iterator():
        file_delete(key=stored.key)
        StoredFile.objects.filter(pk=stored.pk).update(deleted_at=timezone.now())
        count += 1
    return count
