"""Exports: a zip of an account's optimized (or original) files, built by a worker into the files storage.

- start (`POST /v1/export`): one export of an account runs at a time. A request while one is `enqueued` or
  `processing` gets that one back, whatever its type (no duplicate work); a running export not heard from
  for `EXPORT_LEASE_SECONDS` (its worker died, its message was lost) is failed `interrupted` and replaced;
- build (worker): the zip is written to a temporary file (in `FILE_UPLOAD_TEMP_DIR` when set), each stored
  file copied into it in `CHUNK_BYTES` chunks (`ZIP_STORED`: images are compressed already), then the zip
  copied to storage the same way: memory stays at one chunk whatever the account's size. An account without
  files gets a valid empty zip;
- serve: the zip is a StoredFile like any other, downloaded through its `/v1/files/{token}/{name}` link and
  purged with the others `CRUSH_RETENTION_DAYS` after the request (`expired_files_purge`).
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import posixpath
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable
from typing import IO

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Account
from compression.models import ENDED_STATUSES, Export, Status, StoredFile
from compression.selectors import ExportSource, export_sources
from compression.services.lifecycle import INTERNAL_ERROR_CODE, INTERNAL_ERROR_MESSAGE, INTERRUPTED_CODE
from compression.services.options import ORIGINAL_STYLE
from compression.storage import (
    StorageUnavailable,
    export_key,
    file_chunks,
    file_delete,
    file_put_stream,
)
from crush import broker

logger = logging.getLogger(__name__)

BUILD_TASK = "compression.tasks.export_build_task"
RUNNING_STATUSES = (Status.ENQUEUED, Status.PROCESSING)
CHUNK_BYTES = 1024 * 1024  # read from storage and written to the zip at a time
HEARTBEAT_SECONDS = 30  # a build touches its row this often (after a file), so it is not taken for lost
# A running export not heard from this long is taken for lost. Ten minutes: far more than a heartbeat, and
# than the wait of an export queued behind the compression jobs of a busy worker.
EXPORT_LEASE_SECONDS = 600
ZIP_CONTENT_TYPE = "application/zip"
DEFAULT_ENTRY_NAME = "file"
INTERRUPTED_MESSAGE = "The export was interrupted; ask for a new one"


def export_start(*, account: Account, export_type: str) -> Export:
    """The account's running export, else a new one of `export_type`, built by a worker after the commit."""
    now = timezone.now()
    with transaction.atomic():
        running = (
            Export.objects.select_for_update().filter(account=account, status__in=RUNNING_STATUSES).first()
        )
        if running is not None:
            if running.updated_at >= now - datetime.timedelta(seconds=EXPORT_LEASE_SECONDS):
                return running
            logger.warning("export %s lost in %s: failed, a new one starts", running.id, running.status)
            _end(running, status=Status.FAILED, message=INTERRUPTED_MESSAGE, code=INTERRUPTED_CODE)
        try:
            with transaction.atomic():  # a concurrent request may have just started one
                export = Export.objects.create(
                    account=account,
                    type=export_type,
                    expire_at=now + datetime.timedelta(days=settings.CRUSH_RETENTION_DAYS),
                )
        except IntegrityError:
            return Export.objects.get(account=account, status__in=RUNNING_STATUSES)
        broker.apply_async_on_commit(BUILD_TASK, (export.id,), what=f"export {export.id}")
    logger.info("export %s of account %s (%s) enqueued", export.id, account.id, export_type)
    return export


def export_build(*, export_id: int) -> None:
    """Builds the export's zip and completes it; does nothing once it has ended (a redelivered message).
    StorageUnavailable leaves it `processing` for the task's retry; any other failure ends it `failed`."""
    export = _claim(export_id)
    if export is None:
        return
    key = export_key(export_id=export.id)
    try:
        with tempfile.TemporaryFile(dir=settings.FILE_UPLOAD_TEMP_DIR) as spool:  # None: the system's
            files = _zip_write(
                spool,
                export_sources(account=export.account, export_type=export.type),
                heartbeat=_heartbeat(export.id),
            )
            size = spool.seek(0, 2)
            spool.seek(0)
            sha256 = hashlib.file_digest(spool, "sha256").hexdigest()
            name = file_put_stream(key=key, source=spool)
    except StorageUnavailable:
        raise
    except Exception:
        logger.exception("export %s failed", export.id)
        export_fail(export_id=export.id, message=INTERNAL_ERROR_MESSAGE, code=INTERNAL_ERROR_CODE)
        raise
    _complete(export.id, key=name, files=files, size=size, sha256=sha256)


def export_fail(*, export_id: int, message: str, code: str) -> None:
    with transaction.atomic():
        export = Export.objects.select_for_update().filter(pk=export_id).first()
        if export is not None and export.status not in ENDED_STATUSES:
            _end(export, status=Status.FAILED, message=message, code=code)


def _claim(export_id: int) -> Export | None:
    with transaction.atomic():
        export = (
            Export.objects.select_for_update(of=("self",))
            .select_related("account")
            .filter(pk=export_id)
            .first()
        )
        if export is None or export.status in ENDED_STATUSES:
            return None
        export.status = Status.PROCESSING
        export.save(update_fields=["status", "updated_at"])
    return export


def _heartbeat(export_id: int) -> Callable[[], None]:
    last = time.monotonic()

    def beat() -> None:
        nonlocal last
        if time.monotonic() - last >= HEARTBEAT_SECONDS:
            Export.objects.filter(pk=export_id, status=Status.PROCESSING).update(updated_at=timezone.now())
            last = time.monotonic()

    return beat


def _complete(export_id: int, *, key: str, files: int, size: int, sha256: str) -> None:
    with transaction.atomic():
        export = Export.objects.select_for_update().filter(pk=export_id).first()
        if export is None or export.status in ENDED_STATUSES:
            # Replaced as lost, or deleted, while it was built: its zip is no one's (a completed export's
            # zip is this very key, rewritten by a redelivered run, and stays).
            if export is None or export.status == Status.FAILED:
                transaction.on_commit(lambda: file_delete(key=key))
            return
        export.file = StoredFile.objects.create(
            key=key,
            filename=f"export-{export.id}-{export.type}.zip",
            content_type=ZIP_CONTENT_TYPE,
            size=size,
            sha256=sha256,
            expire_at=export.expire_at,
        )
        export.files, export.size = files, size
        _end(export, status=Status.COMPLETED, message=None, code="", fields=["file", "files", "size"])


def _end(
    export: Export, *, status: Status, message: str | None, code: str, fields: Iterable[str] = ()
) -> None:
    """Ends a locked export in the caller's transaction."""
    export.status = status
    export.error_msg = message
    export.error_code = code
    export.ended_at = timezone.now()
    export.save(update_fields=["status", "error_msg", "error_code", "ended_at", "updated_at", *fields])
    logger.info("export %s %s", export.id, status)


# --- the zip


def _zip_write(spool: IO[bytes], sources: Iterable[ExportSource], *, heartbeat: Callable[[], None]) -> int:
    """Writes the zip of `sources` into the seekable `spool`, each file copied chunk by chunk; returns the
    entries written. A file gone from storage since it was listed is left out."""
    written = 0
    taken: set[str] = set()
    with zipfile.ZipFile(spool, mode="w", compression=zipfile.ZIP_STORED) as archive:
        for source in sources:
            try:
                chunks = file_chunks(key=source.key, chunk_bytes=CHUNK_BYTES)
            except FileNotFoundError:
                logger.warning("export entry %s left out: its file is gone", source.key)
                continue
            entry = zipfile.ZipInfo(_entry_name(source, taken), date_time=_zip_time(source.created_at))
            entry.compress_type = zipfile.ZIP_STORED
            entry.file_size = source.size_bytes  # zipfile chooses ZIP64 headers (past 4 GiB) from this hint
            with archive.open(entry, mode="w") as target:
                for chunk in chunks:
                    target.write(chunk)
            written += 1
            heartbeat()
    return written


def _entry_name(source: ExportSource, taken: set[str]) -> str:
    """`<original id>/<filename>` for an original or the `original` style's output,
    `<original id>/<style>/<filename>` for a resize style's; `-2`, `-3`… before the extension if taken."""
    parts = [str(source.original_id)]
    if source.style is not None and source.style != ORIGINAL_STYLE:
        parts.append(_path_part(source.style))
    parts.append(_path_part(posixpath.basename(source.filename) or DEFAULT_ENTRY_NAME))
    name = candidate = "/".join(parts)
    stem, extension = posixpath.splitext(name)
    counter = 1
    while candidate in taken:
        counter += 1
        candidate = f"{stem}-{counter}{extension}"
    taken.add(candidate)
    return candidate


def _path_part(text: str) -> str:
    """A segment of an entry's path: no separator, never `.` or `..` (an unzipper must stay in its folder)."""
    part = text.replace("/", "_").replace("\\", "_").strip()
    return "_" if part in ("", ".", "..") else part


def _zip_time(moment: datetime.datetime) -> tuple[int, int, int, int, int, int]:
    utc = moment.astimezone(datetime.UTC)
    return (max(utc.year, 1980), utc.month, utc.day, utc.hour, utc.minute, utc.second)
