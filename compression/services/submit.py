"""Accepting an original: checked, stored and enqueued in one transaction; a synchronous job waited for."""

from __future__ import annotations

import datetime
import logging
import time

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from accounts.selectors import quota_used_this_month
from compression import engine
from compression.engine import (
    EngineError,
    InputTooLarge,
    UnsupportedConversion,
)
from compression.fetch import (
    DownloadFailed,
    DownloadUnavailable,
    UrlRefused,
    url_check,
    url_filename,
)
from compression.models import ENDED_STATUSES, OptimizedImage, OriginalImage, Status
from compression.services.files import original_image_delete, original_store
from compression.services.lifecycle import (
    INTERNAL_ERROR_CODE,
    INTERNAL_ERROR_MESSAGE,
    INTERRUPTED_CODE,
    original_image_enqueue,
    original_image_enqueue_on_commit,
    original_image_fetch_enqueue_on_commit,
    original_locked,
)
from compression.services.options import (
    ORIGINAL_STYLE,
    SubmitOptions,
    engine_limits,
    filename_clean,
    options_validate,
    resize_spec,
)
from crush.lib.errors import CrushError, FileTooLarge, QuotaExceeded, UnsupportedMedia, ValidationFailed
from crush.lib.netguard import NetworkError, ResponseTooLarge
from webhooks.services import callback_url_check, image_callback_url_create

logger = logging.getLogger(__name__)

SYNC_QUEUE = "sync"  # synchronous jobs: consumed by workers of their own (Procfile `sync`)
SYNC_POLL_FIRST_SECONDS = 0.05  # a waiting request reads the job's row this often at first, then less often
# At most 0.2 s between reads: a caller learns of its job's end 0.1 s later on average (sync jobs take
# ~1–5 s), for five primary-key reads a second per waiting request.
SYNC_POLL_MAX_SECONDS = 0.2
# Why an image_url could not be fetched: a synchronous caller's 422 on the image_url field.
_URL_ERROR_CODES = {
    error.code for error in (UrlRefused, DownloadFailed, ResponseTooLarge, DownloadUnavailable, NetworkError)
}


def original_image_submit(
    *,
    account: Account,
    options: SubmitOptions,
    base_url: str,
    upload: UploadedFile | None = None,
    image_url: str | None = None,
    synchronous: bool,
) -> OriginalImage:
    """Accepts one original from `upload` or `image_url` (exactly one: the surfaces' serializers check it, as
    they name those fields differently); see the package docstring. Returns the ended original when
    `synchronous`."""
    if (upload is None) == (not image_url):
        raise TypeError("original_image_submit takes either an upload or an image_url")
    options_validate(options)
    origin = options.origin or ("file" if upload is not None else "url")
    if image_url and _allowance_used_up(account):
        raise QuotaExceeded()  # a URL's size is known only once a worker fetched it; nothing is left now
    if image_url:
        try:
            url_check(url=image_url)
        except (UrlRefused, DownloadUnavailable) as exc:
            raise ValidationFailed({"image_url": [exc.message]}) from exc
    callback_url = options.callback_url and callback_url_check(url=options.callback_url, field="callback_url")

    data: bytes | None = None
    filename = ""
    if upload is not None:
        if upload.size is not None and upload.size > account.file_max_size:
            raise FileTooLarge()
        data = upload.read(account.file_max_size + 1)
        filename = filename_clean(upload.name or "")
    else:  # downloaded by the worker, never in the thread that answers the request
        filename = filename_clean(url_filename(image_url or ""))

    probe: engine.Probe | None = None
    if data is not None:
        if len(data) > account.file_max_size:
            raise FileTooLarge()
        try:
            probe = engine.probe(data, limits=engine_limits())
        except EngineError as exc:
            raise UnsupportedMedia(exc.message) from exc
        filename = filename or f"image.{probe.format.extension}"

    with transaction.atomic():
        original = _original_create(
            account=account,
            options=options,
            origin=origin,
            base_url=base_url,
            image_url=image_url or "",
            filename=filename,
            synchronous=synchronous,
        )
        if data is not None and probe is not None:
            original_store(original=original, data=data, probe=probe)
        if callback_url:  # before the job can end: it is enqueued on commit
            image_callback_url_create(account=account, url=callback_url, image_id=original.id)
        if not synchronous and data is not None:
            original_image_enqueue_on_commit(original.id)
        elif not synchronous:  # an image_url: downloaded first by the I/O worker, then compressed
            original_image_fetch_enqueue_on_commit(original.id)
    if not synchronous:
        return original if data is not None else _downloaded_wait(original)
    return _sync_run(original.id)


def _downloaded_wait(original: OriginalImage) -> OriginalImage:
    """An asynchronous image_url submit answers once the I/O worker stored the download (its `size` known,
    as the Crush.pics WordPress plugin requires to keep track of the job), the job ended, or
    CRUSH_URL_SIZE_WAIT_SECONDS passed; the request's thread only polls the row."""
    if settings.CRUSH_URL_SIZE_WAIT_SECONDS <= 0:
        return original
    deadline = time.monotonic() + settings.CRUSH_URL_SIZE_WAIT_SECONDS
    pause = SYNC_POLL_FIRST_SECONDS
    while time.monotonic() < deadline:
        time.sleep(pause)
        pause = min(pause * 1.5, SYNC_POLL_MAX_SECONDS)
        current = OriginalImage.objects.select_related("file").filter(pk=original.pk).first()
        if current is None:
            return original
        if current.size is not None or current.status in ENDED_STATUSES:
            return current
    return original


def _allowance_used_up(account: Account) -> bool:
    """Whether the account or its parent has no byte of this month's allowance left."""
    return any(
        holder.plan_bytes is not None and quota_used_this_month(account=holder) >= holder.plan_bytes
        for holder in (account.parent, account)
        if holder is not None
    )


def _sync_run(original_image_id: int) -> OriginalImage:
    """A synchronous job runs on a worker of the `sync` queue while the request waits for it, cheaply (the
    web server's threads only poll the row): compression never runs where requests are answered.

    Ended within CRUSH_SYNC_WAIT_SECONDS: the original, or the error of a failed one (which is deleted, as
    nothing of it is worth keeping). Not ended by then, or not published (broker down): the original as it
    stands, turned into an asynchronous job — it goes on, and its end is notified like any other's.
    """
    published = original_image_enqueue(original_image_id, queue=SYNC_QUEUE)
    deadline = time.monotonic() + settings.CRUSH_SYNC_WAIT_SECONDS
    pause = SYNC_POLL_FIRST_SECONDS
    while True:
        original = OriginalImage.objects.select_related("file").filter(pk=original_image_id).first()
        if original is None:
            raise ProcessingFailed("The image was deleted while it was being compressed.")
        if original.status in ENDED_STATUSES:
            break
        if not published or time.monotonic() >= deadline:
            original = _sync_hand_over(original_image_id)
            if original.status not in ENDED_STATUSES:
                return original
            break
        time.sleep(pause)
        pause = min(pause * 1.5, SYNC_POLL_MAX_SECONDS)
    if original.status == Status.FAILED:
        error = _failure_error(original)
        original_image_delete(original_image=original)
        raise error
    return original


def _sync_hand_over(original_image_id: int) -> OriginalImage:
    """The caller stops waiting: unless the job just ended, it becomes asynchronous (webhook at its end)."""
    with transaction.atomic():
        original = original_locked(original_image_id)
        if original is None:
            raise ProcessingFailed("The image was deleted while it was being compressed.")
        if original.status not in ENDED_STATUSES:
            original.synchronous = False
            original.save(update_fields=["synchronous", "updated_at"])
            logger.info("original %s: still %s when its caller stopped waiting", original.id, original.status)
    return OriginalImage.objects.select_related("file").get(pk=original_image_id)


class ProcessingFailed(CrushError):
    """A synchronous job that failed for a reason of ours, not of the file."""

    code = INTERNAL_ERROR_CODE
    status = 500
    default_message = INTERNAL_ERROR_MESSAGE


def _failure_error(original: OriginalImage) -> CrushError:
    """What a synchronous caller is answered for a failed original: 4xx when the file is at fault."""
    message = original.error_msg or UnsupportedMedia.default_message
    if original.error_code in (INTERNAL_ERROR_CODE, INTERRUPTED_CODE):
        return ProcessingFailed(message)
    if original.error_code in _URL_ERROR_CODES:
        return ValidationFailed({"image_url": [message]})
    if original.error_code in (InputTooLarge.code, FileTooLarge.code):
        return FileTooLarge(message)
    if original.error_code == UnsupportedConversion.code:  # the file is fine; the format asked is not
        return ValidationFailed({"convert": [message]})
    return UnsupportedMedia(message)


def _expiry() -> datetime.datetime:
    return timezone.now() + datetime.timedelta(days=settings.CRUSH_RETENTION_DAYS)


def _original_create(
    *,
    account: Account,
    options: SubmitOptions,
    origin: str,
    base_url: str,
    image_url: str,
    filename: str,
    synchronous: bool,
) -> OriginalImage:
    compression_type = options.compression_type or account.compression_type
    expire_at = _expiry()
    original = OriginalImage.objects.create(
        account=account,
        status=Status.ENQUEUED,
        compression_type=compression_type,
        compression_level=options.compression_level,
        quality_target=options.quality_target or account.quality_target,
        convert=",".join(options.convert),
        preserve=",".join(engine.DEFAULT_PRESERVE if options.preserve is None else options.preserve),
        strip_tags=options.strip_tags,
        origin=origin,
        image_url=image_url,
        base_url=base_url.rstrip("/"),
        synchronous=synchronous,
        filename=filename,
        expire_at=expire_at,
    )
    bounded = options.main_resize
    rows = [
        OptimizedImage(
            style=ORIGINAL_STYLE,
            strategy=bounded.strategy if bounded else "",
            width=bounded.width if bounded else None,
            height=bounded.height if bounded else None,
            background=(bounded.background if bounded else None) or options.background,
            convert=original.convert,
        )
    ]
    for style in options.resize:
        spec = resize_spec(style)
        rows.append(
            OptimizedImage(
                style=style.style.strip(),
                strategy=spec.strategy.value,
                width=spec.width,
                height=spec.height,
                background=spec.background or options.background,
                convert=original.convert if style.convert is None else ",".join(style.convert),
            )
        )
    for row in rows:
        row.original = original
        row.compression_type = compression_type
        row.compression_level = options.compression_level
        row.filename = filename
        row.expire_at = expire_at
    OptimizedImage.objects.bulk_create(rows)
    return original
