"""The files storage: Django's "default" storage (local files, or S3 via django-storages when AWS_* is set).

Keys are built here from ids and hashes, never from a client's filename:
`originals/<original_id>/<random>.<ext>`, `optimized/<original_id>/<sha256(style)[:32]>.<ext>` and
`exports/<export_id>.zip`. Optimized and export keys are deterministic, so a re-run job overwrites its own
output instead of adding a file.
Storage failures become StorageUnavailable, which tasks retry.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Iterator
from typing import IO

from botocore.exceptions import BotoCoreError, ClientError
from django.core.files.base import ContentFile, File
from django.core.files.storage import Storage, storages

from crush.lib.errors import CrushError

logger = logging.getLogger(__name__)


class StorageUnavailable(CrushError):
    code = "storage_unavailable"
    status = 503
    default_message = "The file storage is unavailable, try again later"


_TRANSIENT = (OSError, BotoCoreError, ClientError)


def files_storage() -> Storage:
    return storages["default"]


def original_key(*, original_id: int, extension: str) -> str:
    return f"originals/{original_id}/{secrets.token_hex(16)}.{extension}"


def optimized_key(*, original_id: int, style: str, extension: str) -> str:
    style_hash = hashlib.sha256(style.encode()).hexdigest()[:32]
    return f"optimized/{original_id}/{style_hash}.{extension}"


def export_key(*, export_id: int) -> str:
    return f"exports/{export_id}.zip"


def file_put(*, key: str, data: bytes) -> str:
    """Writes `data` under `key` (replacing what was there); returns the name the storage used."""
    return _save(key, ContentFile(data))


def file_put_stream(*, key: str, source: IO[bytes]) -> str:
    """Writes the open binary file `source` under `key` (replacing what was there) without reading it whole:
    the storage copies it in chunks (S3: a multipart upload). Returns the name the storage used."""
    return _save(key, File(source, name=key))


def _save(key: str, content: File) -> str:
    storage = files_storage()
    try:
        if storage.exists(key):
            storage.delete(key)  # FileSystemStorage would otherwise pick another name
        name = storage.save(key, content)
    except _TRANSIENT as exc:
        logger.warning("storage write of %s failed: %r", key, exc)
        raise StorageUnavailable() from exc
    return name


def file_open(*, key: str) -> File:
    try:
        return files_storage().open(key, "rb")
    except FileNotFoundError:
        raise
    except _TRANSIENT as exc:
        logger.warning("storage read of %s failed: %r", key, exc)
        raise StorageUnavailable() from exc


def file_read(*, key: str) -> bytes:
    with file_open(key=key) as handle:
        try:
            return handle.read()
        except _TRANSIENT as exc:
            logger.warning("storage read of %s failed: %r", key, exc)
            raise StorageUnavailable() from exc


def file_chunks(*, key: str, chunk_bytes: int) -> Iterator[bytes]:
    """The stored object in chunks of at most `chunk_bytes`, never whole in memory. The object is opened at
    once (FileNotFoundError now when it is gone); reading it may raise StorageUnavailable. On S3 its body is
    streamed: django-storages' S3File would first download all of it into memory."""
    return _chunks(file_open(key=key), key=key, chunk_bytes=chunk_bytes)


def _chunks(handle: File, *, key: str, chunk_bytes: int) -> Iterator[bytes]:
    from storages.backends.s3 import S3File

    with handle:
        try:
            if isinstance(handle, S3File):
                yield from handle.obj.get()["Body"].iter_chunks(chunk_bytes)
            else:
                while chunk := handle.read(chunk_bytes):
                    yield chunk
        except _TRANSIENT as exc:
            logger.warning("storage read of %s failed: %r", key, exc)
            raise StorageUnavailable() from exc


def file_delete(*, key: str) -> None:
    try:
        files_storage().delete(key)
    except FileNotFoundError:
        return
    except _TRANSIENT as exc:
        logger.warning("storage delete of %s failed: %r", key, exc)
        raise StorageUnavailable() from exc


def file_download_url(*, key: str, filename: str, content_type: str) -> str | None:
    """A short-lived presigned URL when CRUSH_FILES_REDIRECT_TO_S3 is on and the storage is S3, else None
    (stream it instead: the default, because a private bucket such as compose's MinIO is not reachable by
    clients)."""
    from django.conf import settings
    from storages.backends.s3 import S3Storage

    storage = files_storage()
    if not settings.CRUSH_FILES_REDIRECT_TO_S3 or not isinstance(storage, S3Storage):
        return None
    return storage.url(
        key,
        parameters={
            "ResponseContentType": content_type,
            "ResponseContentDisposition": f"inline; filename*=UTF-8''{_rfc5987(filename)}",
        },
    )


def _rfc5987(filename: str) -> str:
    from urllib.parse import quote

    return quote(filename, safe="")
