"""Submit, process, retry and delete originals: the only place that joins storage, DB rows and the engine.

Job life cycle (DESIGN.md "Reliability rules"):
- accept: validate, sniff, reserve quota, create the rows and store the upload in one transaction; the task is
  enqueued on commit (async) or the job runs inline (sync). With the broker down the job is accepted all the
  same and marked `unpublished`;
- claim: a run locks the row, counts an attempt, marks it `processing` and records its process in
  `claimed_by`; the row's `updated_at` is the lease. A run that finds the job ended, or `processing` within
  its lease, does nothing — unless the claimer is known to be gone (its process on this machine died:
  compression/claimers.py), as when Celery redelivers the late-acked message of a killed pool process: then
  it takes the job over at once;
- styles: each optimized image is written to a deterministic key and committed on its own, so a re-run skips
  completed styles and overwrites a half-written file instead of adding one;
- end: in one transaction the original becomes `completed` (consumption recorded) or `failed` (quota
  released) and, for async jobs, the webhook event is emitted;
- hand back: a worker stopping gives back the jobs it cannot finish; a worker starting gives back those its
  killed processes held (same node name) — both at once, not after the lease;
- sweep: a job stuck past its lease is enqueued again; a job whose attempts are used up ends `failed`. The
  lease is for the losses nobody knows of (a worker on another machine gone for good, a lost broker message);
- repair: when a worker (re)connects to the broker, and with every sweep, unpublished jobs are published, and
  every enqueued job when the broker came back empty (crush/broker.py).
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import logging
import posixpath
import time
import unicodedata
from dataclasses import dataclass, replace
from typing import Any, cast

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from accounts.models import Account
from accounts.selectors import quota_used_this_month
from accounts.services import consumption_record, quota_release, quota_reserve
from compression import engine
from compression.claimers import claimer_gone, claimer_name
from compression.engine import (
    CorruptInput,
    EncryptedPdf,
    EngineError,
    EngineLimits,
    Format,
    InputTooLarge,
    UnsupportedFormat,
)
from compression.fetch import (
    DownloadFailed,
    DownloadUnavailable,
    UrlRefused,
    image_download,
    url_check,
    url_filename,
)
from compression.models import ENDED_STATUSES, OptimizedImage, OriginalImage, Status, StoredFile
from compression.storage import (
    StorageUnavailable,
    file_delete,
    file_put,
    file_read,
    optimized_key,
    original_key,
)
from crush import broker
from crush.lib.errors import CrushError, FileTooLarge, QuotaExceeded, UnsupportedMedia, ValidationFailed
from crush.lib.netguard import NetworkError, ResponseTooLarge

logger = logging.getLogger(__name__)

PROCESS_TASK = "compression.tasks.original_image_process_task"
ORIGINAL_STYLE = OptimizedImage.ORIGINAL_STYLE
_COMPRESSION_TYPES = {choice.value for choice in engine.CompressionType}
MAX_STYLE_CHARS = 64
MAX_ORIGIN_CHARS = 32
MAX_FILENAME_CHARS = 200
SYNC_QUEUE = "sync"  # synchronous jobs: consumed by workers of their own (Procfile `sync`)
SYNC_POLL_FIRST_SECONDS = 0.05  # a waiting request reads the job's row this often at first, then less often
# At most 0.2 s between reads: a caller learns of its job's end 0.1 s later on average (sync jobs take
# ~1–5 s), for five primary-key reads a second per waiting request.
SYNC_POLL_MAX_SECONDS = 0.2
REPAIR_BATCH = 10_000  # jobs published again per queue_repair run; the next run takes the rest
# Engine errors that mean the input itself cannot be read: the original fails, not just one style.
UNREADABLE_ERRORS = (CorruptInput, UnsupportedFormat, InputTooLarge, EncryptedPdf)
TRANSIENT_ERRORS = (StorageUnavailable, DownloadUnavailable)
# Why an image_url could not be fetched: a synchronous caller's 422 on the image_url field.
_URL_ERROR_CODES = {
    error.code for error in (UrlRefused, DownloadFailed, ResponseTooLarge, DownloadUnavailable, NetworkError)
}
INTERNAL_ERROR_MESSAGE = "The file could not be processed because of an internal error."
INTERNAL_ERROR_CODE = "internal_error"
INTERRUPTED_CODE = "interrupted"
NO_OUTPUT_MESSAGE = "No optimized image could be made from this file."
_LEVEL_FIELD = {
    Format.JPEG: "compression_level_jpg",
    Format.PNG: "compression_level_png",
    Format.GIF: "compression_level_gif",
}


@dataclass(frozen=True, slots=True)
class StyleRequest:
    style: str
    strategy: str
    width: int | None
    height: int | None
    background: str | None = None


@dataclass(frozen=True, slots=True)
class SubmitOptions:
    """None means the account's default (compression) or the surface's default (origin)."""

    compression_type: str | None = None
    compression_level: int | None = None
    resize: tuple[StyleRequest, ...] = ()
    strip_tags: bool = True
    origin: str | None = None


# --- accept ---------------------------------------------------------------------------------------


def original_image_submit(
    *,
    account: Account,
    options: SubmitOptions,
    base_url: str,
    upload: UploadedFile | None = None,
    image_url: str | None = None,
    synchronous: bool,
) -> OriginalImage:
    """Accepts one original; see the module docstring. Returns the ended original when `synchronous`."""
    if (upload is None) == (not image_url):
        raise ValidationFailed({"file": ["Send either a file or an image_url, not both or neither."]})
    _options_validate(options)
    origin = options.origin or ("file" if upload is not None else "url")
    if image_url:
        try:
            url_check(url=image_url)
        except (UrlRefused, DownloadUnavailable) as exc:
            raise ValidationFailed({"image_url": [exc.message]}) from exc

    data: bytes | None = None
    filename = ""
    if upload is not None:
        if upload.size is not None and upload.size > account.file_max_size:
            raise FileTooLarge()
        data = upload.read(account.file_max_size + 1)
        filename = _filename_clean(upload.name or "")
    else:  # downloaded by the worker, never in the thread that answers the request
        filename = _filename_clean(url_filename(image_url or ""))

    probe: engine.Probe | None = None
    if data is not None:
        if len(data) > account.file_max_size:
            raise FileTooLarge()
        try:
            probe = engine.probe(data, limits=_limits())
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
            _original_store(original=original, data=data, probe=probe)
        if not synchronous:
            transaction.on_commit(lambda: _enqueue(original.id))
    if not synchronous:
        return original
    return _sync_run(original.id)


def _sync_run(original_image_id: int) -> OriginalImage:
    """A synchronous job runs on a worker of the `sync` queue while the request waits for it, cheaply (the
    web server's threads only poll the row): compression never runs where requests are answered.

    Ended within CRUSH_SYNC_WAIT_SECONDS: the original, or the error of a failed one (which is deleted, as
    nothing of it is worth keeping). Not ended by then, or not published (broker down): the original as it
    stands, turned into an asynchronous job — it goes on, and its end is notified like any other's.
    """
    published = _enqueue(original_image_id, queue=SYNC_QUEUE)
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
        original = _original_locked(original_image_id)
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
    return UnsupportedMedia(message)


def _options_validate(options: SubmitOptions) -> None:
    errors: dict[str, list[str]] = {}
    if options.compression_type is not None and options.compression_type not in _COMPRESSION_TYPES:
        errors["compression_type"] = ["Must be one of lossy, lossless, balanced."]
    level = options.compression_level
    if level is not None and (isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 100):
        errors["compression_level"] = ["Must be an integer between 1 and 100."]
    if options.origin is not None and len(options.origin) > MAX_ORIGIN_CHARS:
        errors["origin"] = [f"Must be at most {MAX_ORIGIN_CHARS} characters."]
    resize_errors = _styles_errors(options.resize)
    if resize_errors:
        errors["resize"] = resize_errors
    if errors:
        raise ValidationFailed(errors)


def _styles_errors(styles: tuple[StyleRequest, ...]) -> list[str]:
    errors: list[str] = []
    if len(styles) > settings.CRUSH_MAX_RESIZE_STYLES:
        return [f"At most {settings.CRUSH_MAX_RESIZE_STYLES} resize styles."]
    seen: set[str] = set()
    for style in styles:
        name = style.style.strip() if isinstance(style.style, str) else ""
        if not name:
            errors.append("Every resize style needs a name ('style').")
            continue
        if len(name) > MAX_STYLE_CHARS:
            errors.append(f"Style names are at most {MAX_STYLE_CHARS} characters.")
        elif name == ORIGINAL_STYLE:
            errors.append(f"The style name '{ORIGINAL_STYLE}' is reserved.")
        elif name in seen:
            errors.append(f"The style name '{name}' is used twice.")
        seen.add(name)
        try:
            _resize_spec(style)
        except EngineError as exc:
            errors.append(f"{name}: {exc.message}")
    return errors


def _resize_spec(style: StyleRequest) -> engine.ResizeSpec:
    return engine.ResizeSpec(
        # a str: ResizeSpec converts it and raises InvalidSpec for an unknown strategy
        strategy=cast(engine.ResizeStrategy, style.strategy or engine.ResizeStrategy.FIT),
        width=style.width,
        height=style.height,
        background=style.background,
    )


def _filename_clean(name: str) -> str:
    """The client's filename without directories or control characters (shown back, never used as a key)."""
    name = posixpath.basename(name.replace("\\", "/"))
    name = "".join(char for char in name if unicodedata.category(char)[0] != "C").strip()
    return name[-MAX_FILENAME_CHARS:]


def _limits() -> EngineLimits:
    return EngineLimits(
        max_input_bytes=settings.CRUSH_MAX_INPUT_BYTES,
        max_pixels=settings.CRUSH_MAX_PIXELS,
        max_frames=settings.CRUSH_MAX_FRAMES,
        max_pdf_pages=settings.CRUSH_MAX_PDF_PAGES,
        max_svg_bytes=settings.CRUSH_MAX_SVG_BYTES,
    )


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
        strip_tags=options.strip_tags,
        origin=origin,
        image_url=image_url,
        base_url=base_url.rstrip("/"),
        synchronous=synchronous,
        filename=filename,
        expire_at=expire_at,
    )
    rows = [OptimizedImage(style=ORIGINAL_STYLE, strategy="")]
    for style in options.resize:
        spec = _resize_spec(style)
        rows.append(
            OptimizedImage(
                style=style.style.strip(),
                strategy=spec.strategy.value,
                width=spec.width,
                height=spec.height,
                background=spec.background,
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


def _original_store(*, original: OriginalImage, data: bytes, probe: engine.Probe) -> None:
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


def _enqueue(original_image_id: int, *, queue: str | None = None) -> bool:
    """Publishes the job's message (to its task's queue, or `queue`); False when the broker is down: the job
    stays accepted, marked `unpublished`, and `queue_repair` publishes it once the broker answers again (the
    first worker to reconnect, or the sweeper). The task is reached by name: tasks.py imports this module."""
    sent = broker.publish(
        lambda: broker.task(PROCESS_TASK).apply_async((original_image_id,), queue=queue),
        what=f"original {original_image_id}",
    )
    if not sent:  # nothing to write when it went out: the usual case costs no extra query
        OriginalImage.objects.filter(pk=original_image_id).update(unpublished=True)
    return sent


# --- process --------------------------------------------------------------------------------------


class _Gone(Exception):
    """The original was deleted while it was being processed."""


def original_image_process(*, original_image_id: int, claimer: str | None = None) -> None:
    """The body of one processing run (task or inline); safe to call any number of times.

    `claimer` names the process that runs it (compression.claimers.claimer_name: a task passes its worker's
    node name; None is a run outside a worker, in this process: an eager task, a script).
    Transient errors (storage, download) put the job back to `enqueued` and are raised for the task to retry,
    until the attempts are used up: then the job ends `failed`.
    """
    original = _claim(original_image_id, claimer=claimer or claimer_name())
    if original is None:
        return
    try:
        _process_claimed(original)
    except _Gone:
        logger.info("original %s was deleted while processing", original_image_id)
    except TRANSIENT_ERRORS as exc:
        if original.synchronous:  # its caller is waiting: the error now, not retries it would not see
            _original_fail(original_image_id=original.id, message=exc.message, code=exc.code)
            return
        if original.attempts >= settings.CRUSH_JOB_MAX_ATTEMPTS:
            _original_fail(
                original_image_id=original.id,
                message=f"Gave up after {original.attempts} attempts: {exc.message}",
                code=exc.code,
            )
            return
        OriginalImage.objects.filter(pk=original.id, status=Status.PROCESSING).update(
            status=Status.ENQUEUED, claimed_by="", updated_at=timezone.now()
        )
        raise


def original_image_hand_back(*, original_image_id: int) -> bool:
    """A worker stopping gracefully gives back a job it could not finish within its grace period: the job is
    `enqueued` again and a new message published, so it runs again at once (not after the lease); the
    interrupted run is not counted as an attempt. False when the job was not `processing` (it ended)."""
    with transaction.atomic():
        original = _original_locked(original_image_id)
        if original is None or original.status != Status.PROCESSING:
            return False
        original.attempts = max(original.attempts - 1, 0)
        _hand_back_locked(original)
    logger.warning("original %s handed back to the queue by a stopping worker", original_image_id)
    return True


def lost_runs_hand_back(*, nodename: str) -> int:
    """A worker starting gives back the jobs that processes of an earlier run of it (same node name: a worker
    killed whole, then started again) left `processing` when they died: each is `enqueued` again with a new
    message, at once — neither after the lease nor after the broker's visibility timeout (Redis, 1 h)
    brings the unacknowledged message back. The interrupted run counts as an attempt: a job that keeps
    killing its worker still ends `failed` after CRUSH_JOB_MAX_ATTEMPTS. Returns how many were touched."""
    candidates = list(
        OriginalImage.objects.filter(status=Status.PROCESSING, claimed_by__startswith=f"{nodename}:")
        .order_by("id")
        .values_list("id", flat=True)[:1000]
    )
    touched = 0
    for original_id in candidates:
        with transaction.atomic():
            original = _original_locked(original_id)
            if (
                original is None
                or original.status != Status.PROCESSING
                or not original.claimed_by.startswith(f"{nodename}:")
                or not claimer_gone(original.claimed_by, written_at=original.updated_at)
            ):
                continue
            touched += 1
            logger.warning(
                "original %s: its run in %s was lost; handed back", original.id, original.claimed_by
            )
            if _interrupted_too_often(original):
                continue
            _hand_back_locked(original)
    return touched


def _hand_back_locked(original: OriginalImage) -> None:
    """`enqueued` again, unclaimed, and a new message once the caller's transaction commits."""
    original.status = Status.ENQUEUED
    original.claimed_by = ""
    original.save(update_fields=["status", "attempts", "claimed_by", "updated_at"])
    transaction.on_commit(functools.partial(_enqueue, original.id))


def _interrupted_too_often(original: OriginalImage) -> bool:
    """Ends a locked original `failed` when its runs so far used up its attempts (each was interrupted)."""
    if original.attempts < settings.CRUSH_JOB_MAX_ATTEMPTS:
        return False
    _original_end_locked(
        original,
        status=Status.FAILED,
        message=f"Processing was interrupted {original.attempts} times; the file may be crashing the worker",
        code=INTERRUPTED_CODE,
    )
    return True


def _lease() -> datetime.timedelta:
    return datetime.timedelta(seconds=settings.CRUSH_JOB_LEASE_SECONDS)


def _claim(original_image_id: int, *, claimer: str) -> OriginalImage | None:
    """Locks the job for the run of `claimer`; None when the run must do nothing (see the module docstring).

    A job `processing` within its lease belongs to its claimer, unless that process is known to be gone:
    then this run takes it over at once (Celery redelivering the message of a killed pool process).
    """
    with transaction.atomic():
        original = (
            OriginalImage.objects.select_for_update(of=("self",))
            .select_related("account", "file")
            .filter(pk=original_image_id)
            .first()
        )
        if original is None or original.status in ENDED_STATUSES:
            return None
        now = timezone.now()
        if original.status == Status.PROCESSING and original.updated_at > now - _lease():
            if not claimer_gone(original.claimed_by, written_at=original.updated_at):
                return None  # another process holds the lease (or cannot be checked from here)
            logger.warning(
                "original %s: its run in %s was lost; taken over", original.id, original.claimed_by
            )
        if _interrupted_too_often(original):
            return None
        original.attempts += 1
        original.status = Status.PROCESSING
        original.claimed_by = claimer
        original.save(update_fields=["attempts", "status", "claimed_by", "updated_at"])
        return original


def _process_claimed(original: OriginalImage) -> None:
    limits = _limits()
    if original.file is None:
        data = _fetch_for(original, limits)
        if data is None:
            return
    else:
        data = file_read(key=original.file.key)

    fmt = engine.sniff(data)
    options = engine.CompressOptions(
        compression_type=engine.CompressionType(original.compression_type),
        level=original.compression_level or 80,
        strip_metadata=original.strip_tags,
    )
    # The engine answers (anytime: its best output so far, else the input or a plain resize) before
    # Celery's hard time limit kills the worker — a synchronous job within CRUSH_SYNC_SEARCH_SECONDS, so
    # that its caller gets the answer within a client's timeout; each output left gets its share of the
    # time left.
    job_deadline = time.monotonic() + _engine_seconds(original)
    pending = [o for o in original.optimized_images.order_by("id") if o.status not in ENDED_STATUSES]
    weights = [_time_weight(o) for o in pending]
    for index, optimized in enumerate(pending):
        deadline = _share_of(job_deadline, weights[index], sum(weights[index:]))
        is_original = optimized.style == ORIGINAL_STYLE
        spec = (
            None
            if is_original
            else _resize_spec(
                StyleRequest(
                    optimized.style,
                    optimized.strategy,
                    optimized.width,
                    optimized.height,
                    optimized.background,
                )
            )
        )
        try:
            result = engine.compress(data, options=options, resize=spec, limits=limits, deadline=deadline)
        except EngineError as exc:
            if is_original and isinstance(exc, UNREADABLE_ERRORS):
                _original_fail(original_image_id=original.id, message=exc.message, code=exc.code)
                return
            logger.info("original %s style %s failed: %s", original.id, optimized.style, exc.code)
            _optimized_fail(optimized=optimized, message=exc.message, code=exc.code)
            continue
        except Exception:  # an engine bug must end this style, not leave the job to the sweeper three times
            logger.exception("original %s style %s: unexpected engine failure", original.id, optimized.style)
            _optimized_fail(optimized=optimized, message=INTERNAL_ERROR_MESSAGE, code=INTERNAL_ERROR_CODE)
            continue
        if result.warning:
            logger.warning(
                "original %s style %s: engine fallback (%s)", original.id, optimized.style, result.warning
            )
        _optimized_complete(
            original=original, optimized=optimized, result=result, fmt=fmt, kept=result.data == data
        )
        if is_original and result.search is not None:
            # The styles' searches start where the original's ended (the engine still checks the floor).
            options = replace(options, hint=result.search)
    _original_complete(original_image_id=original.id)


def _engine_seconds(original: OriginalImage) -> float:
    """The engine time of one run of the job (every output left)."""
    seconds = settings.CRUSH_JOB_TIME_LIMIT_SECONDS * 0.9
    if original.synchronous:
        seconds = min(seconds, settings.CRUSH_SYNC_SEARCH_SECONDS)
    return seconds


# The full-size output searches the most pixels: twice a resize style's share of the job's time.
ORIGINAL_STYLE_TIME_WEIGHT = 2.0


def _time_weight(optimized: OptimizedImage) -> float:
    return ORIGINAL_STYLE_TIME_WEIGHT if optimized.style == ORIGINAL_STYLE else 1.0


def _share_of(job_deadline: float, weight: float, weights_left: float) -> float:
    """The deadline of the next output: its weight's share of the job's time left (time an output
    does not use passes on to the next ones)."""
    now = time.monotonic()
    return now + max(0.0, job_deadline - now) * weight / weights_left


def _fetch_for(original: OriginalImage, limits: EngineLimits) -> bytes | None:
    """Downloads the image_url of an async job and stores it as the original; None when the job ended."""
    account = original.account
    try:
        downloaded = image_download(url=original.image_url, max_bytes=account.file_max_size)
        probe = engine.probe(downloaded.data, limits=limits)
    except (UrlRefused, FileTooLarge) as exc:
        _original_fail(original_image_id=original.id, message=str(exc.message), code=exc.code)
        return None
    except EngineError as exc:
        _original_fail(original_image_id=original.id, message=exc.message, code=exc.code)
        return None
    try:
        with transaction.atomic():
            locked = _original_locked(original.id)
            if locked is None:
                raise _Gone()
            locked.filename = locked.filename or f"image.{probe.format.extension}"
            _original_store(original=locked, data=downloaded.data, probe=probe)
    except QuotaExceeded as exc:
        _original_fail(original_image_id=original.id, message=exc.message, code=exc.code)
        return None
    original.refresh_from_db()
    return downloaded.data


def _optimized_complete(
    *, original: OriginalImage, optimized: OptimizedImage, result: engine.Result, fmt: Format, kept: bool
) -> None:
    key = file_put(
        key=optimized_key(original_id=original.id, style=optimized.style, extension=fmt.extension),
        data=result.data,
    )
    with transaction.atomic():
        if not OriginalImage.objects.select_for_update(of=("self",)).filter(pk=original.id).exists():
            file_delete(key=key)
            raise _Gone()
        # One INSERT … ON CONFLICT (key) DO UPDATE: a re-run overwrites the row of its earlier file (same key,
        # its token kept), a first run creates it — no SELECT and savepoints as update_or_create costs.
        (stored,) = StoredFile.objects.bulk_create(
            [
                StoredFile(
                    key=key,
                    filename=optimized.filename or original.filename,
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
            kept_original=kept,
            warning=result.warning,
            updated_at=timezone.now(),
        )


def _original_locked(original_image_id: int) -> OriginalImage | None:
    """The original with its row locked until the transaction ends (None once deleted)."""
    return (
        OriginalImage.objects.select_for_update(of=("self",))
        .select_related("account")
        .filter(pk=original_image_id)
        .first()
    )


def _optimized_fail(*, optimized: OptimizedImage, message: str, code: str = "") -> None:
    OptimizedImage.objects.filter(pk=optimized.pk).update(
        status=Status.FAILED, error_msg=message, error_code=code, updated_at=timezone.now()
    )


@dataclass(frozen=True, slots=True)
class _Outputs:
    """An original's optimized images at its end, read in one query."""

    pending: int
    completed: int
    main_size: int | None  # the original style's output


def _outputs(original: OriginalImage) -> _Outputs:
    counts = original.optimized_images.aggregate(
        pending=Count("id", filter=~Q(status__in=ENDED_STATUSES)),
        completed=Count("id", filter=Q(status=Status.COMPLETED)),
        main_size=Max("size", filter=Q(style=ORIGINAL_STYLE)),
    )
    return _Outputs(counts["pending"], counts["completed"], counts["main_size"])


def _original_complete(*, original_image_id: int) -> None:
    with transaction.atomic():
        original = _original_locked(original_image_id)
        if original is None or original.status in ENDED_STATUSES:
            return
        outputs = _outputs(original)
        if outputs.pending:
            return
        if outputs.completed:
            _original_end_locked(original, status=Status.COMPLETED, message=None, outputs=outputs)
            return
        # Every output failed: the original failed too, for the reason its own style (listed first) gave.
        reason = original.optimized_images.order_by("id").first()
        _original_end_locked(
            original,
            status=Status.FAILED,
            message=(reason.error_msg if reason else None) or NO_OUTPUT_MESSAGE,
            code=(reason.error_code if reason else "") or INTERNAL_ERROR_CODE,
        )


def _original_fail(*, original_image_id: int, message: str, code: str = "") -> None:
    with transaction.atomic():
        original = _original_locked(original_image_id)
        if original is None or original.status in ENDED_STATUSES:
            return
        _original_end_locked(original, status=Status.FAILED, message=message, code=code)


def _original_end_locked(
    original: OriginalImage,
    *,
    status: Status,
    message: str | None,
    code: str = "",
    outputs: _Outputs | None = None,
) -> None:
    """Ends a locked original: status, ledger or quota, and the webhook event, in the caller's transaction.
    `outputs`: its optimized images as the caller just read them (else read here when needed)."""
    now = timezone.now()
    original.status = status
    original.error_msg = message
    original.error_code = code
    original.ended_at = now
    original.claimed_by = ""
    fields = ["status", "error_msg", "error_code", "ended_at", "claimed_by", "updated_at"]
    if status == Status.FAILED:
        original.optimized_images.exclude(status__in=ENDED_STATUSES).update(
            status=Status.FAILED, error_msg=message, error_code=code, updated_at=now
        )
        if original.quota_month is not None and original.size:
            quota_release(account=original.account, size_bytes=original.size, month=original.quota_month)
            original.quota_month = None
            fields.append("quota_month")
    else:
        outputs = outputs or _outputs(original)
        completed = outputs.completed
        if original.ledger_files is None:
            consumption_record(
                account=original.account,
                origin=original.origin,
                bytes_before=original.size or 0,
                bytes_after=(outputs.main_size if outputs.main_size is not None else original.size) or 0,
                optimized_files=completed,
            )
        else:  # a retry of failed styles: the original is counted once, its newly completed files added
            consumption_record(
                account=original.account,
                origin=original.origin,
                bytes_before=0,
                bytes_after=0,
                files=0,
                optimized_files=max(completed - original.ledger_files, 0),
            )
        original.ledger_files = completed
        fields.append("ledger_files")
    original.save(update_fields=fields)
    logger.info("original %s %s after %s attempt(s)", original.id, status, original.attempts)
    if not original.synchronous:
        _event_emit(original)


def _event_emit(original: OriginalImage) -> None:
    from compression.presenters import optimized_image_data, original_image_data
    from webhooks.selectors import callback_url_active_exists
    from webhooks.services import original_image_event_emit

    if not callback_url_active_exists(account=original.account):
        return  # no event to write: its payload (three reads) is not built either
    optimized = list(original.optimized_images.select_related("file").order_by("id"))
    for row in optimized:
        row.original = original
    original_data = original_image_data(original, base_url=original.base_url, optimized_images=optimized)
    payload = {
        "shop_identifier": original.account.login,
        "quota_usage": quota_used_this_month(account=original.account),
        "image_id": original.id,
        "original_image": original_data,
        "optimized_images": [optimized_image_data(row, base_url=original.base_url) for row in optimized],
    }
    original_image_event_emit(
        account=original.account,
        event="optimized" if original.status == Status.COMPLETED else "error",
        original_image_id=original.id,
        payload=payload,
    )


# --- operator and client actions ------------------------------------------------------------------


def original_image_retry(*, original_image: OriginalImage) -> bool:
    """Runs a failed original (or the failed styles of a completed one) again; False when nothing to retry.

    The quota a failed original gave back is reserved again (QuotaExceeded when the month is used up).
    """
    with transaction.atomic():
        original = _original_locked(original_image.pk)
        if original is None or original.status not in ENDED_STATUSES:
            return False
        failed_styles = original.optimized_images.filter(status=Status.FAILED)
        if original.status == Status.COMPLETED and not failed_styles.exists():
            return False
        if original.file_id is not None and original.quota_month is None and original.size:
            original.quota_month = quota_reserve(account=original.account, size_bytes=original.size)
        failed_styles.update(status=Status.ENQUEUED, error_msg=None, error_code="", updated_at=timezone.now())
        original.status = Status.ENQUEUED
        original.error_msg = None
        original.error_code = ""
        original.ended_at = None
        original.attempts = 0
        original.synchronous = False
        original.save(
            update_fields=[
                "status",
                "error_msg",
                "error_code",
                "ended_at",
                "attempts",
                "synchronous",
                "quota_month",
                "updated_at",
            ]
        )
        transaction.on_commit(lambda: _enqueue(original.id))
    return True


def original_image_delete(*, original_image: OriginalImage) -> None:
    """Deletes the original, its optimized images and every stored file they point at."""
    original_images_delete(originals=OriginalImage.objects.filter(pk=original_image.pk))


def original_images_delete_all(*, account: Account) -> int:
    return original_images_delete(originals=OriginalImage.objects.filter(account=account))


def original_images_delete(*, originals: Any) -> int:
    """Deletes a queryset of originals with their rows and files; the storage objects go after the commit."""
    with transaction.atomic():
        ids = list(originals.values_list("id", flat=True))
        file_ids = set(
            OriginalImage.objects.filter(id__in=ids, file__isnull=False).values_list("file_id", flat=True)
        ) | set(
            OptimizedImage.objects.filter(original_id__in=ids, file__isnull=False).values_list(
                "file_id", flat=True
            )
        )
        files = StoredFile.objects.filter(id__in=file_ids)
        keys = list(files.filter(deleted_at=None).values_list("key", flat=True))
        OriginalImage.objects.filter(id__in=ids).delete()
        files.delete()
        transaction.on_commit(lambda: _keys_delete(keys))
    return len(ids)


def stored_files_delete(*, originals: Any) -> int:
    """Removes the stored files of originals but keeps their rows (admin "delete files"); links answer 404."""
    ids = list(originals.values_list("id", flat=True))
    file_ids = set(
        OriginalImage.objects.filter(id__in=ids, file__isnull=False).values_list("file_id", flat=True)
    ) | set(
        OptimizedImage.objects.filter(original_id__in=ids, file__isnull=False).values_list(
            "file_id", flat=True
        )
    )
    return _stored_files_expire(files=StoredFile.objects.filter(id__in=file_ids, deleted_at=None))


def _keys_delete(keys: list[str]) -> None:
    for key in keys:
        try:
            file_delete(key=key)
        except StorageUnavailable:
            logger.warning("could not delete stored file %s; it will stay orphaned", key)


def _stored_files_expire(*, files: Any) -> int:
    count = 0
    for stored in files.only("id", "key").iterator():
        file_delete(key=stored.key)
        StoredFile.objects.filter(pk=stored.pk).update(deleted_at=timezone.now())
        count += 1
    return count


# --- periodic jobs --------------------------------------------------------------------------------


def stuck_jobs_sweep() -> int:
    """Enqueues jobs stuck in `enqueued`/`processing` past their lease again (the broker may have lost them,
    or their worker died); a job whose attempts are used up ends `failed`. Returns how many were touched."""
    cutoff = timezone.now() - _lease()
    stuck_ids = list(
        OriginalImage.objects.filter(status__in=[Status.ENQUEUED, Status.PROCESSING], updated_at__lt=cutoff)
        .order_by("id")
        .values_list("id", flat=True)[:1000]
    )
    touched = 0
    for original_id in stuck_ids:
        with transaction.atomic():
            original = _original_locked(original_id)
            if original is None or original.status in ENDED_STATUSES or original.updated_at >= cutoff:
                continue
            touched += 1
            if original.status == Status.PROCESSING and _interrupted_too_often(original):
                continue
            logger.warning("original %s stuck in %s: enqueued again", original.id, original.status)
            original.status = Status.ENQUEUED
            original.claimed_by = ""
            original.save(update_fields=["status", "claimed_by", "updated_at"])
            transaction.on_commit(functools.partial(_enqueue, original.id))
    return touched


def queue_repair() -> int:
    """Publishes again what the broker does not hold: the jobs whose message could not be sent (broker down
    when they were accepted) and, when the broker came back empty, every job still `enqueued` (its message
    went with the broker's contents). A job published twice runs once (see `_claim`). Returns how many."""
    pending = OriginalImage.objects.filter(status=Status.ENQUEUED)
    if broker.came_back_empty():
        logger.warning("the broker holds none of our messages (restarted empty?): publishing enqueued jobs")
    else:
        pending = pending.filter(unpublished=True)
    ids = list(pending.order_by("id").values_list("id", flat=True)[:REPAIR_BATCH])
    published = [original_id for original_id in ids if _enqueue(original_id)]
    OriginalImage.objects.filter(id__in=published, unpublished=True).update(unpublished=False)
    if published:
        logger.info("published %d enqueued job(s) again", len(published))
    return len(published)


def expired_files_purge() -> int:
    """Deletes stored files past their expiry (CRUSH_RETENTION_DAYS after upload); their links then 404."""
    return _stored_files_expire(
        files=StoredFile.objects.filter(deleted_at=None, expire_at__lte=timezone.now())
    )


__all__ = [
    "CrushError",
    "StyleRequest",
    "SubmitOptions",
    "expired_files_purge",
    "lost_runs_hand_back",
    "original_image_delete",
    "original_image_hand_back",
    "original_image_process",
    "original_image_retry",
    "original_image_submit",
    "original_images_delete_all",
    "queue_repair",
    "stored_files_delete",
    "stuck_jobs_sweep",
]
