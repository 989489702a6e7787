"""One processing run of a job: claim, download or read, compress every output left, end; hand-backs."""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from compression import engine
from compression.claimers import claimer_gone, claimer_name
from compression.engine import (
    CorruptInput,
    EncryptedPdf,
    EngineError,
    EngineLimits,
    InputTooLarge,
    UnsupportedFormat,
)
from compression.fetch import (
    DownloadUnavailable,
    UrlRefused,
    image_download,
)
from compression.models import ENDED_STATUSES, OptimizedImage, OriginalImage, Status
from compression.services.files import optimized_complete, original_store
from compression.services.lifecycle import (
    INTERNAL_ERROR_CODE,
    INTERNAL_ERROR_MESSAGE,
    OriginalGone,
    interrupted_too_often,
    job_lease,
    original_complete,
    original_fail,
    original_image_enqueue,
    original_image_enqueue_on_commit,
    original_locked,
)
from compression.services.options import ORIGINAL_STYLE, StyleRequest, engine_limits, resize_spec
from compression.storage import (
    StorageUnavailable,
    file_read,
)
from crush.lib.errors import FileTooLarge, QuotaExceeded

logger = logging.getLogger(__name__)

# Engine errors that mean the input itself cannot be read: the original fails, not just one style.
UNREADABLE_ERRORS = (CorruptInput, UnsupportedFormat, InputTooLarge, EncryptedPdf)
TRANSIENT_ERRORS = (StorageUnavailable, DownloadUnavailable)


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
    except OriginalGone:
        logger.info("original %s was deleted while processing", original_image_id)
    except TRANSIENT_ERRORS as exc:
        if original.synchronous:  # its caller is waiting: the error now, not retries it would not see
            original_fail(original_image_id=original.id, message=exc.message, code=exc.code)
            return
        if original.attempts >= settings.CRUSH_JOB_MAX_ATTEMPTS:
            original_fail(
                original_image_id=original.id,
                message=f"Gave up after {original.attempts} attempts: {exc.message}",
                code=exc.code,
            )
            return
        OriginalImage.objects.filter(pk=original.id, status=Status.PROCESSING).update(
            status=Status.ENQUEUED, claimed_by="", updated_at=timezone.now()
        )
        raise


def original_image_fetch(*, original_image_id: int) -> None:
    """The image_url download of an asynchronous job, ahead of its compression, on the I/O worker's threads
    (the `fetch` queue): the submit answers as soon as the original is stored, with its size, as clients
    such as the Crush.pics WordPress plugin need. Then the compression task is published. A download that
    fails for a transient reason leaves the job to the compression run, which downloads it again with
    retries; one that cannot succeed ends the job `failed` here."""
    original = OriginalImage.objects.select_related("account", "file").filter(pk=original_image_id).first()
    if original is None or original.status != Status.ENQUEUED:
        return
    if original.file is None:
        try:
            if _fetch_for(original, engine_limits()) is None:
                return  # ended failed
        except TRANSIENT_ERRORS as exc:
            logger.info("original %s: download deferred to its compression run: %s", original.id, exc.code)
        except OriginalGone:
            return
    original_image_enqueue(original.id)


def original_image_hand_back(*, original_image_id: int) -> bool:
    """A worker stopping gracefully gives back a job it could not finish within its grace period: the job is
    `enqueued` again and a new message published, so it runs again at once (not after the lease); the
    interrupted run is not counted as an attempt. False when the job was not `processing` (it ended)."""
    with transaction.atomic():
        original = original_locked(original_image_id)
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
            original = original_locked(original_id)
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
            if interrupted_too_often(original):
                continue
            _hand_back_locked(original)
    return touched


def _hand_back_locked(original: OriginalImage) -> None:
    """`enqueued` again, unclaimed, and a new message once the caller's transaction commits."""
    original.status = Status.ENQUEUED
    original.claimed_by = ""
    original.save(update_fields=["status", "attempts", "claimed_by", "updated_at"])
    original_image_enqueue_on_commit(original.id)


def _claim(original_image_id: int, *, claimer: str) -> OriginalImage | None:
    """Locks the job for the run of `claimer`; None when the run must do nothing (see the package docstring).

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
        if original.status == Status.PROCESSING and original.updated_at > now - job_lease():
            if not claimer_gone(original.claimed_by, written_at=original.updated_at):
                return None  # another process holds the lease (or cannot be checked from here)
            logger.warning(
                "original %s: its run in %s was lost; taken over", original.id, original.claimed_by
            )
        if interrupted_too_often(original):
            return None
        original.attempts += 1
        original.status = Status.PROCESSING
        original.claimed_by = claimer
        original.save(update_fields=["attempts", "status", "claimed_by", "updated_at"])
        return original


def _process_claimed(original: OriginalImage) -> None:
    limits = engine_limits()
    if original.file is None:
        data = _fetch_for(original, limits)
        if data is None:
            return
    else:
        data = file_read(key=original.file.key)

    # The submit's probe found the format and checked the limits: passed on, not sniffed again.
    probed = engine.Format.of_mime(original.file_type)
    fmt = probed or engine.sniff(data)
    options = engine.CompressOptions(
        compression_type=engine.CompressionType(original.compression_type),
        level=original.compression_level or 80,
        strip_metadata=original.strip_tags,
        preserve=frozenset(filter(None, original.preserve.split(","))),
        target=original.quality_target,
    )
    # The engine answers (anytime: its best output so far, else the input or a plain resize) before
    # Celery's hard time limit kills the worker — a synchronous job within CRUSH_SYNC_SEARCH_SECONDS per
    # output format tried, so that its caller gets the answer within a client's timeout; each output
    # left gets its share of the time left.
    pending = _pending(original)
    weights = [_time_weight(o, fmt) for o in pending]
    job_deadline = time.monotonic() + engine_seconds(original, fmt)
    for index, optimized in enumerate(pending):
        deadline = _share_of(job_deadline, weights[index], sum(weights[index:]))
        is_original = optimized.style == ORIGINAL_STYLE
        spec = (
            None
            if not optimized.strategy  # the full-size output, unless bounded (``SubmitOptions.bounded``)
            else resize_spec(
                StyleRequest(
                    optimized.style,
                    optimized.strategy,
                    optimized.width,
                    optimized.height,
                    optimized.background,
                )
            )
        )
        asked = replace(
            options,
            convert=tuple(filter(None, optimized.convert.split(","))),
            background=optimized.background,
        )
        try:
            result = engine.compress(
                data, options=asked, resize=spec, limits=limits, deadline=deadline, probed=probed
            )
        except EngineError as exc:
            if is_original and isinstance(exc, UNREADABLE_ERRORS):
                original_fail(original_image_id=original.id, message=exc.message, code=exc.code)
                return
            logger.info("original %s style %s failed: %s", original.id, optimized.style, exc.code)
            optimized_fail(optimized=optimized, message=exc.message, code=exc.code)
            continue
        except Exception:  # an engine bug must end this style, not leave the job to the sweeper three times
            logger.exception("original %s style %s: unexpected engine failure", original.id, optimized.style)
            optimized_fail(optimized=optimized, message=INTERNAL_ERROR_MESSAGE, code=INTERNAL_ERROR_CODE)
            continue
        if result.warning:
            logger.warning(
                "original %s style %s: engine fallback (%s)", original.id, optimized.style, result.warning
            )
        optimized_complete(
            original=original, optimized=optimized, result=result, fmt=fmt, kept=result.data == data
        )
        if is_original and result.search is not None:
            # The styles' searches start where the original's ended (the engine still checks the floor).
            options = replace(options, hint=result.search)
    original_complete(original_image_id=original.id)


def _pending(original: OriginalImage) -> list[OptimizedImage]:
    return [o for o in original.optimized_images.order_by("id") if o.status not in ENDED_STATUSES]


def engine_seconds(original: OriginalImage, fmt: engine.Format) -> float:
    """The engine time of one run of the job (every output left; ``fmt`` is the input's format). A
    synchronous job has CRUSH_SYNC_SEARCH_SECONDS for its outputs as asked without ``convert``, and as
    much again for each further format a ``convert`` list or ``auto`` asks to try (each candidate is a
    search of its own)."""
    seconds = settings.CRUSH_JOB_TIME_LIMIT_SECONDS * 0.9
    if original.synchronous:
        pending = _pending(original)
        plain = sum(_time_weight(o) for o in pending) or 1.0
        asked = sum(_time_weight(o, fmt) for o in pending)
        seconds = min(seconds, settings.CRUSH_SYNC_SEARCH_SECONDS * max(1.0, asked / plain))
    return seconds


# The full-size output searches the most pixels: twice a resize style's share of the job's time.
ORIGINAL_STYLE_TIME_WEIGHT = 2.0


def _time_weight(optimized: OptimizedImage, fmt: engine.Format | None = None) -> float:
    """An output's share of the job's time: the original's counts twice, and each output format it
    asks ``convert`` to try (with ``fmt``, the input's) counts once."""
    weight = ORIGINAL_STYLE_TIME_WEIGHT if optimized.style == ORIGINAL_STYLE else 1.0
    if fmt is None:
        return weight
    return weight * len(engine.convert_targets(tuple(filter(None, optimized.convert.split(","))), fmt))


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
        original_fail(original_image_id=original.id, message=str(exc.message), code=exc.code)
        return None
    except EngineError as exc:
        original_fail(original_image_id=original.id, message=exc.message, code=exc.code)
        return None
    try:
        with transaction.atomic():
            locked = original_locked(original.id)
            if locked is None:
                raise OriginalGone()
            locked.filename = locked.filename or f"image.{probe.format.extension}"
            original_store(original=locked, data=downloaded.data, probe=probe)
    except QuotaExceeded as exc:
        original_fail(original_image_id=original.id, message=exc.message, code=exc.code)
        return None
    original.refresh_from_db()
    return downloaded.data


def optimized_fail(*, optimized: OptimizedImage, message: str, code: str = "") -> None:
    OptimizedImage.objects.filter(pk=optimized.pk).update(
        status=Status.FAILED, error_msg=message, error_code=code, updated_at=timezone.now()
    )
