"""Delivery: the attempt state machine of one (event, callback URL) pair (STYLE.md §7).

All state is in the database, so worker and broker restarts lose nothing:
1. The outbox writes one pending Delivery per active callback URL in the caller's transaction and enqueues
   `delivery_attempt_task(delivery_id, attempts)` on commit (`attempt_enqueue_on_commit`).
2. `delivery_attempt` claims the attempt with one conditional UPDATE (pending, due, `attempts` unchanged), so
   a duplicated or stale message does nothing; the claim also pushes `next_attempt_at` past the timeout as a
   lease, and returns what the POST needs (event id and body, the URL and its secret) in the same statement.
3. After the POST, a 2xx takes the short path `_attempt_record_delivered` (one statement on PostgreSQL); any
   other outcome `_attempt_record_failed`, which ends the delivery or schedules the next attempt: through a
   broker message with a countdown when short, otherwise left to the sweeper.
4. `deliveries_requeue_lost` (beat) re-enqueues every due delivery whose message should have run by now.
"""

import datetime
import logging
import random

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from crush import broker
from webhooks import signing, transport
from webhooks.models import CallbackUrl, Delivery, DeliveryAttempt, DeliveryStatus
from webhooks.services import delivery_sql
from webhooks.services.callback_urls import callback_url_disable

logger = logging.getLogger(__name__)

ATTEMPT_TASK = "webhooks.tasks.delivery_attempt_task"
RETRY_JITTER = 0.2  # each scheduled delay is multiplied by a random factor in [0.8, 1.2]
# Delays up to this go to the broker as a countdown; longer ones are dispatched by the sweeper when due
# (Redis re-delivers a countdown message older than its visibility timeout; a broker restart would lose it).
MAX_COUNTDOWN_SECONDS = 600
# A claimed attempt not recorded this long after the HTTP timeout is taken as lost (worker killed mid-POST).
LEASE_MARGIN_SECONDS = 30
EARLY_TOLERANCE = datetime.timedelta(seconds=1)  # a countdown message may fire a little before its due time
REQUEUE_BATCH = 500


def attempt_enqueue_on_commit(delivery_id: int, attempts: int, countdown: float | None = None) -> None:
    """Publishes the delivery's next attempt once the transaction commits. With the broker down the delivery
    is marked not queued, so the next requeue of lost deliveries (deliveries_requeue_lost) publishes it."""

    def unpublished() -> None:
        Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING, attempts=attempts).update(
            queued_for=None
        )

    broker.apply_async_on_commit(
        ATTEMPT_TASK,
        (delivery_id, attempts),
        countdown=countdown,
        what=f"webhook delivery {delivery_id}",
        unpublished=unpublished,
    )


def delivery_attempt(*, delivery_id: int, attempts_before: int) -> None:
    """Makes attempt number `attempts_before + 1` of a delivery if it is still pending, due and not made."""
    now = timezone.now()
    claimed = delivery_sql.delivery_claim(
        delivery_id=delivery_id,
        attempts_before=attempts_before,
        due_before=now + EARLY_TOLERANCE,
        now=now,
        lease_until=now
        + datetime.timedelta(seconds=settings.CRUSH_WEBHOOK_TIMEOUT_SECONDS + LEASE_MARGIN_SECONDS),
    )
    if claimed is None:
        logger.debug("delivery %s attempt %s: nothing to do", delivery_id, attempts_before + 1)
        return
    delivery, callback_url = claimed
    if callback_url is None or not callback_url.is_active:
        _delivery_fail(delivery, error="callback URL deleted or disabled")
        return
    if delivery.attempts > len(settings.CRUSH_WEBHOOK_RETRY_SCHEDULE_SECONDS) + 1:
        # only reachable when earlier attempts died unrecorded (killed workers): stop claiming it forever
        _delivery_fail(delivery, error="too many interrupted attempts")
        return
    attempted_at = timezone.now()
    timestamp = int(attempted_at.timestamp())
    body = delivery.event.body.encode("utf-8")
    headers = {
        "webhook-id": delivery.event.public_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signing.sign(
            secret=callback_url.secret, msg_id=delivery.event.public_id, timestamp=timestamp, body=body
        ),
    }
    result = transport.post(
        url=callback_url.url,
        headers=headers,
        body=body,
        timeout_seconds=settings.CRUSH_WEBHOOK_TIMEOUT_SECONDS,
        allow_private=settings.CRUSH_ALLOW_PRIVATE_URLS,
    )
    if result.succeeded:
        _attempt_record_delivered(
            delivery=delivery,
            attempted_at=attempted_at,
            result=result,
            url_was_failing=callback_url.failing_since is not None,
        )
    else:
        _attempt_record_failed(delivery=delivery, attempted_at=attempted_at, result=result)


def _attempt_record_delivered(
    *,
    delivery: Delivery,
    attempted_at: datetime.datetime,
    result: transport.AttemptResult,
    url_was_failing: bool,
) -> None:
    """Records a 2xx: the attempt row and the delivered delivery, in the fewest statements.

    The callback URL is only written when it was failing when the attempt was claimed.
    """
    now = timezone.now()
    if connection.vendor == "postgresql" and not url_was_failing:
        delivery_sql.attempt_delivered_insert(
            delivery_id=delivery.id, attempted_at=attempted_at, result=result, delivered_at=now
        )
    else:
        with transaction.atomic():
            delivery_sql.attempt_insert(delivery_id=delivery.id, attempted_at=attempted_at, result=result)
            if url_was_failing and delivery.callback_url_id is not None:
                CallbackUrl.objects.filter(pk=delivery.callback_url_id, failing_since__isnull=False).update(
                    failing_since=None
                )
            delivery_sql.delivery_delivered(
                delivery_id=delivery.id, status_code=result.status_code, delivered_at=now
            )
    logger.info(
        "delivery %s of event %s delivered (attempt %s: HTTP %s in %.3fs)",
        delivery.id,
        delivery.event.public_id,
        delivery.attempts,
        result.status_code,
        result.duration_seconds,
    )


@transaction.atomic
def _attempt_record_failed(
    *, delivery: Delivery, attempted_at: datetime.datetime, result: transport.AttemptResult
) -> None:
    """Records an attempt without a 2xx, then fails the delivery (410, the URL failing too long, the schedule
    exhausted) or schedules its next attempt."""
    DeliveryAttempt.objects.create(
        delivery=delivery,
        attempted_at=attempted_at,
        status_code=result.status_code,
        duration_ms=round(result.duration_seconds * 1000),
        response_excerpt=result.response_excerpt,
        error=result.error,
    )
    callback_url_id = delivery.callback_url_id
    assert callback_url_id is not None  # checked before the attempt; deleting the URL fails its deliveries
    delivery.last_status_code = result.status_code
    delivery.last_error = result.error or f"HTTP {result.status_code}"
    logger.info(
        "delivery %s of event %s: attempt %s failed (%s)",
        delivery.id,
        delivery.event.public_id,
        delivery.attempts,
        delivery.last_error,
    )
    if result.status_code == 410:
        _delivery_fail(delivery)
        callback_url_disable(callback_url_id=callback_url_id, reason="The receiver answered 410 Gone")
        return
    CallbackUrl.objects.filter(pk=callback_url_id, failing_since__isnull=True).update(
        failing_since=attempted_at
    )
    failing_since = CallbackUrl.objects.values_list("failing_since", flat=True).get(pk=callback_url_id)
    disable_after = datetime.timedelta(seconds=settings.CRUSH_WEBHOOK_DISABLE_AFTER_FAILING_SECONDS)
    if failing_since is not None and attempted_at - failing_since >= disable_after:
        _delivery_fail(delivery)
        callback_url_disable(
            callback_url_id=callback_url_id,
            reason=f"Every delivery failed for {disable_after.total_seconds() / 86400:g} days",
        )
        return
    retry_after = result.retry_after_seconds if result.status_code in (429, 503) else None
    delay_seconds = retry_delay_seconds(attempts_made=delivery.attempts, retry_after_seconds=retry_after)
    if delay_seconds is None:
        _delivery_fail(delivery)
        logger.warning("delivery %s of event %s failed for good", delivery.id, delivery.event.public_id)
        return
    due = timezone.now() + datetime.timedelta(seconds=delay_seconds)
    delivery.next_attempt_at = due
    delivery.queued_for = due if delay_seconds <= MAX_COUNTDOWN_SECONDS else None
    delivery.save(
        update_fields=["last_status_code", "last_error", "next_attempt_at", "queued_for", "updated_at"]
    )
    if delivery.queued_for is not None:
        attempt_enqueue_on_commit(delivery.id, delivery.attempts, countdown=delay_seconds)


def retry_delay_seconds(*, attempts_made: int, retry_after_seconds: float | None) -> float | None:
    """Seconds to wait before the next attempt, None when the schedule is exhausted.

    The schedule's step is jittered; a Retry-After (429/503) lengthens it, up to the schedule's longest step.
    Both are multiplied by CRUSH_WEBHOOK_RETRY_SCALE (1 in production; small in tests).
    """
    schedule = settings.CRUSH_WEBHOOK_RETRY_SCHEDULE_SECONDS
    if attempts_made > len(schedule):
        return None
    delay = schedule[attempts_made - 1] * random.uniform(1 - RETRY_JITTER, 1 + RETRY_JITTER)  # noqa: S311
    if retry_after_seconds is not None:
        delay = max(delay, min(retry_after_seconds, max(schedule)))
    return delay * settings.CRUSH_WEBHOOK_RETRY_SCALE


def _delivery_fail(delivery: Delivery, *, error: str | None = None) -> None:
    delivery.status = DeliveryStatus.FAILED
    delivery.next_attempt_at = None
    delivery.queued_for = None
    if error is not None:
        delivery.last_error = error
    delivery.save(
        update_fields=[
            "status",
            "next_attempt_at",
            "queued_for",
            "last_status_code",
            "last_error",
            "updated_at",
        ]
    )


def deliveries_requeue_lost() -> int:
    """Enqueues due deliveries whose broker message is lost (or never sent, for long waits); returns how many.

    A message counts as lost once CRUSH_WEBHOOK_REQUEUE_AFTER_SECONDS have passed since it should have run.
    A duplicate message is harmless: the attempt claim lets only one message per attempt number through.
    """
    now = timezone.now()
    overdue = now - datetime.timedelta(seconds=settings.CRUSH_WEBHOOK_REQUEUE_AFTER_SECONDS)
    candidates = list(
        Delivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .filter(Q(queued_for__isnull=True) | Q(queued_for__lte=overdue))
        .order_by("next_attempt_at")
        .values_list("id", "attempts")[:REQUEUE_BATCH]
    )
    requeued = 0
    for delivery_id, attempts in candidates:
        marked = Delivery.objects.filter(
            pk=delivery_id, status=DeliveryStatus.PENDING, attempts=attempts
        ).update(queued_for=now, updated_at=now)
        if marked:
            attempt_enqueue_on_commit(delivery_id, attempts)
            requeued += 1
    if requeued:
        logger.info("re-enqueued %s webhook deliveries", requeued)
    return requeued
