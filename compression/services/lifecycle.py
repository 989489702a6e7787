"""A job's row: locked, published to the queue, and ended (status, ledger or quota, webhook event)."""

from __future__ import annotations

import datetime
import functools
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from accounts.selectors import quota_used_this_month
from accounts.services import consumption_record, quota_release
from compression.models import ENDED_STATUSES, OriginalImage, Status
from compression.presenters import kraken_id, kraken_result_data, optimized_image_data, original_image_data
from compression.services.options import ORIGINAL_STYLE
from crush import broker
from webhooks.selectors import image_event_receivers
from webhooks.services import image_callback_emit, original_image_event_emit

logger = logging.getLogger(__name__)

PROCESS_TASK = "compression.tasks.original_image_process_task"
FETCH_TASK = "compression.tasks.original_image_fetch_task"
INTERNAL_ERROR_MESSAGE = "The file could not be processed because of an internal error."
INTERNAL_ERROR_CODE = "internal_error"
INTERRUPTED_CODE = "interrupted"
NO_OUTPUT_MESSAGE = "No optimized image could be made from this file."


def original_image_enqueue(original_image_id: int, *, queue: str | None = None) -> bool:
    """Publishes the job's message now (to its task's queue, or `queue`); False when the broker is down: the
    job stays accepted, marked `unpublished`, and `queue_repair` publishes it once the broker answers again
    (the first worker to reconnect, or the sweeper)."""
    return broker.apply_async(
        PROCESS_TASK,
        (original_image_id,),
        queue=queue,
        what=f"original {original_image_id}",
        unpublished=functools.partial(_unpublished_mark, original_image_id),
    )


def original_image_enqueue_on_commit(original_image_id: int) -> None:
    """Publishes the job's message once the caller's transaction commits (see `original_image_enqueue`)."""
    broker.apply_async_on_commit(
        PROCESS_TASK,
        (original_image_id,),
        what=f"original {original_image_id}",
        unpublished=functools.partial(_unpublished_mark, original_image_id),
    )


def original_image_fetch_enqueue_on_commit(original_image_id: int) -> None:
    """Publishes the download of an asynchronous job's image_url (``jobs.original_image_fetch``) once the
    caller's transaction commits; the broker down, the job is marked `unpublished` like any other and its
    repair publishes the compression task, which downloads it then."""
    broker.apply_async_on_commit(
        FETCH_TASK,
        (original_image_id,),
        what=f"download of original {original_image_id}",
        unpublished=functools.partial(_unpublished_mark, original_image_id),
    )


def _unpublished_mark(original_image_id: int) -> None:
    # Written only when the message did not go out: the usual case costs no extra query.
    OriginalImage.objects.filter(pk=original_image_id).update(unpublished=True)


class OriginalGone(Exception):
    """The original was deleted while it was being processed."""


def interrupted_too_often(original: OriginalImage) -> bool:
    """Ends a locked original `failed` when its runs so far used up its attempts (each was interrupted)."""
    if original.attempts < settings.CRUSH_JOB_MAX_ATTEMPTS:
        return False
    original_end_locked(
        original,
        status=Status.FAILED,
        message=f"Processing was interrupted {original.attempts} times; the file may be crashing the worker",
        code=INTERRUPTED_CODE,
    )
    return True


def job_lease() -> datetime.timedelta:
    return datetime.timedelta(seconds=settings.CRUSH_JOB_LEASE_SECONDS)


def original_locked(original_image_id: int) -> OriginalImage | None:
    """The original with its row locked until the transaction ends (None once deleted)."""
    return (
        OriginalImage.objects.select_for_update(of=("self",))
        .select_related("account")
        .filter(pk=original_image_id)
        .first()
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


def original_complete(*, original_image_id: int) -> None:
    with transaction.atomic():
        original = original_locked(original_image_id)
        if original is None or original.status in ENDED_STATUSES:
            return
        outputs = _outputs(original)
        if outputs.pending:
            return
        if outputs.completed:
            original_end_locked(original, status=Status.COMPLETED, message=None, outputs=outputs)
            return
        # Every output failed: the original failed too, for the reason its own style (listed first) gave.
        reason = original.optimized_images.order_by("id").first()
        original_end_locked(
            original,
            status=Status.FAILED,
            message=(reason.error_msg if reason else None) or NO_OUTPUT_MESSAGE,
            code=(reason.error_code if reason else "") or INTERNAL_ERROR_CODE,
        )


def original_fail(*, original_image_id: int, message: str, code: str = "") -> None:
    with transaction.atomic():
        original = original_locked(original_image_id)
        if original is None or original.status in ENDED_STATUSES:
            return
        original_end_locked(original, status=Status.FAILED, message=message, code=code)


def original_end_locked(
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
    event = "optimized" if original.status == Status.COMPLETED else "error"
    receivers = image_event_receivers(account=original.account, image_id=original.id)
    if receivers.own:
        # the job's own receiver (only Kraken's callback_url makes one): Kraken's result and its `id`
        payload = {"id": kraken_id(original), **kraken_result_data(original, base_url=original.base_url)}
        image_callback_emit(
            account=original.account, event=event, original_image_id=original.id, payload=payload
        )
    if not receivers.account_wide:
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
        event=event,
        original_image_id=original.id,
        payload=payload,
    )
