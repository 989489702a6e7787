"""Callback URLs, the webhook outbox and delivery (STYLE.md §7).

Lifecycle of a delivery (all state in the database, so worker and broker restarts lose nothing):
1. `original_image_event_emit` writes the event and one pending Delivery per active callback URL in the
   caller's transaction and enqueues `delivery_attempt_task(delivery_id, attempts)` on commit.
2. `delivery_attempt` claims the attempt with one conditional UPDATE (pending, due, `attempts` unchanged), so
   a duplicated or stale message does nothing; the claim also pushes `next_attempt_at` past the timeout as a
   lease, and returns what the POST needs (event id and body, the URL and its secret) in the same statement.
3. After the POST, `_attempt_record` writes the DeliveryAttempt and either ends the delivery or schedules the
   next attempt: through a broker message with a countdown when short, otherwise left to the sweeper.
   A 2xx takes the short path `_attempt_record_delivered` (one statement on PostgreSQL).
4. `deliveries_requeue_lost` (beat) re-enqueues every due delivery whose message should have run by now.
"""

from __future__ import annotations

import datetime
import json
import logging
import random
import secrets
import string
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Account
from crush import broker, netguard
from crush.errors import CrushError, ValidationFailed
from crush.timestamps import iso_utc
from webhooks import signing, tasks, transport
from webhooks.models import CallbackUrl, Delivery, DeliveryAttempt, DeliveryStatus, EventType, WebhookEvent

logger = logging.getLogger(__name__)

EVENT_ID_PREFIX = "evt_"
EVENT_ID_LENGTH = 24  # base62 characters: about 143 random bits
MAX_CALLBACK_URLS_PER_ACCOUNT = 20  # every event is POSTed to each: bounds the fan-out of one account
RETRY_JITTER = 0.2  # each scheduled delay is multiplied by a random factor in [0.8, 1.2]
# Delays up to this go to the broker as a countdown; longer ones are dispatched by the sweeper when due
# (Redis re-delivers a countdown message older than its visibility timeout; a broker restart would lose it).
MAX_COUNTDOWN_SECONDS = 600
# A claimed attempt not recorded this long after the HTTP timeout is taken as lost (worker killed mid-POST).
LEASE_MARGIN_SECONDS = 30
EARLY_TOLERANCE = datetime.timedelta(seconds=1)  # a countdown message may fire a little before its due time
REQUEUE_BATCH = 500


class NoActiveCallbackUrl(CrushError):
    code = "no_active_callback_url"
    status = 409
    default_message = "This account has no active callback URL"


# --- callback URLs ------------------------------------------------------------------------------------------


def callback_url_create(*, account: Account, url: str) -> CallbackUrl:
    """Validates `url` with the outbound guard (scheme, host, resolved addresses); gives it a fresh secret."""
    url = url.strip()
    try:
        netguard.check_url(url, allow_private=settings.CRUSH_ALLOW_PRIVATE_URLS)
    except (netguard.UrlRefused, netguard.NetworkError) as exc:
        raise ValidationFailed({"url": [str(exc.message)]}) from None
    if CallbackUrl.objects.filter(account=account).count() >= MAX_CALLBACK_URLS_PER_ACCOUNT:
        raise ValidationFailed(
            {"url": [f"An account may have at most {MAX_CALLBACK_URLS_PER_ACCOUNT} callback URLs"]}
        )
    callback_url = CallbackUrl.objects.create(account=account, url=url, secret=signing.secret_generate())
    logger.info("callback URL %s created for account %s", callback_url.id, account.id)
    return callback_url


@transaction.atomic
def callback_url_delete(*, callback_url: CallbackUrl) -> None:
    _pending_deliveries_fail(callback_url_id=callback_url.id, reason="callback URL deleted")
    logger.info("callback URL %s of account %s deleted", callback_url.id, callback_url.account_id)
    callback_url.delete()


@transaction.atomic
def callback_url_disable(*, callback_url_id: int, reason: str) -> None:
    """Stops every delivery to the URL until an operator re-enables it."""
    disabled = CallbackUrl.objects.filter(pk=callback_url_id, is_active=True).update(
        is_active=False, disabled_at=timezone.now(), disabled_reason=reason[:200]
    )
    _pending_deliveries_fail(callback_url_id=callback_url_id, reason="callback URL disabled")
    if disabled:
        logger.warning("callback URL %s disabled: %s", callback_url_id, reason)


def callback_url_enable(*, callback_url: CallbackUrl) -> None:
    CallbackUrl.objects.filter(pk=callback_url.pk).update(
        is_active=True, disabled_at=None, disabled_reason="", failing_since=None
    )
    logger.info("callback URL %s re-enabled", callback_url.pk)


def _pending_deliveries_fail(*, callback_url_id: int, reason: str) -> None:
    Delivery.objects.filter(callback_url_id=callback_url_id, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.FAILED,
        next_attempt_at=None,
        queued_for=None,
        last_error=reason,
        updated_at=timezone.now(),
    )


# --- events (the outbox) ------------------------------------------------------------------------------------


def event_id_generate() -> str:
    alphabet = string.ascii_letters + string.digits
    return EVENT_ID_PREFIX + "".join(secrets.choice(alphabet) for _ in range(EVENT_ID_LENGTH))


def original_image_event_emit(
    *, account: Account, event: str, original_image_id: int, payload: dict
) -> WebhookEvent | None:
    """Writes the event and its deliveries in the caller's transaction; None when no callback URL is active.

    `payload` carries shop_identifier, quota_usage, image_id, original_image and optimized_images; the body
    sent is `{"id", "event", "created_at", **payload}`, serialized once and frozen.
    """
    event_type = EventType(event)
    callback_url_ids = list(
        CallbackUrl.objects.filter(account=account, is_active=True).values_list("id", flat=True)
    )
    if not callback_url_ids:
        return None
    now = timezone.now()
    public_id = event_id_generate()
    body = json.dumps(
        {"id": public_id, "event": event_type.value, "created_at": iso_utc(now), **payload},
        cls=DjangoJSONEncoder,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    webhook_event = WebhookEvent.objects.create(
        public_id=public_id,
        account=account,
        event_type=event_type,
        image_id=original_image_id,
        body=body,
        created_at=now,
    )
    _deliveries_create(webhook_event=webhook_event, callback_url_ids=callback_url_ids)
    logger.info(
        "webhook event %s (%s, image %s) for account %s: %s deliveries",
        public_id,
        event_type.value,
        original_image_id,
        account.id,
        len(callback_url_ids),
    )
    return webhook_event


@transaction.atomic
def webhook_event_resend(*, webhook_event: WebhookEvent) -> list[Delivery]:
    """Sends the event again, same id and body, to every callback URL of its account that is active now."""
    callback_url_ids = list(
        CallbackUrl.objects.filter(account_id=webhook_event.account_id, is_active=True).values_list(
            "id", flat=True
        )
    )
    if not callback_url_ids:
        raise NoActiveCallbackUrl()
    logger.info("webhook event %s resent to %s URL(s)", webhook_event.public_id, len(callback_url_ids))
    return _deliveries_create(webhook_event=webhook_event, callback_url_ids=callback_url_ids)


def _deliveries_create(*, webhook_event: WebhookEvent, callback_url_ids: list[int]) -> list[Delivery]:
    now = timezone.now()
    deliveries = Delivery.objects.bulk_create(
        [
            Delivery(
                event=webhook_event, callback_url_id=callback_url_id, next_attempt_at=now, queued_for=now
            )
            for callback_url_id in callback_url_ids
        ]
    )
    for delivery in deliveries:
        _attempt_enqueue_on_commit(delivery.id, 0)
    return deliveries


def _attempt_enqueue_on_commit(delivery_id: int, attempts: int, countdown: float | None = None) -> None:
    """Publishes the delivery's next attempt once the transaction commits. With the broker down the delivery
    is marked not queued, so the next requeue of lost deliveries (deliveries_requeue_lost) publishes it."""

    def send() -> None:
        sent = broker.publish(
            lambda: tasks.delivery_attempt_task.apply_async(
                args=(delivery_id, attempts), countdown=countdown
            ),
            what=f"webhook delivery {delivery_id}",
        )
        if not sent:
            Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING, attempts=attempts).update(
                queued_for=None
            )

    transaction.on_commit(send)


def webhook_events_prune() -> int:
    """Deletes events older than RETENTION_DAYS that have nothing left to send (their logs go with them)."""
    cutoff = timezone.now() - datetime.timedelta(days=settings.RETENTION_DAYS)
    deleted, _ = (
        WebhookEvent.objects.filter(created_at__lt=cutoff)
        .exclude(deliveries__status=DeliveryStatus.PENDING)
        .delete()
    )
    return deleted


# --- delivery -----------------------------------------------------------------------------------------------


def delivery_attempt(*, delivery_id: int, attempts_before: int) -> None:
    """Makes attempt number `attempts_before + 1` of a delivery if it is still pending, due and not made."""
    now = timezone.now()
    lease_until = now + datetime.timedelta(
        seconds=settings.CRUSH_WEBHOOK_TIMEOUT_SECONDS + LEASE_MARGIN_SECONDS
    )
    claimed = _delivery_claim(
        delivery_id=delivery_id, attempts_before=attempts_before, now=now, lease_until=lease_until
    )
    if claimed is None:
        logger.debug("delivery %s attempt %s: nothing to do", delivery_id, attempts_before + 1)
        return
    delivery, callback_url = claimed
    if callback_url is None or not callback_url.is_active:
        _delivery_end(delivery, status=DeliveryStatus.FAILED, error="callback URL deleted or disabled")
        return
    if delivery.attempts > len(settings.CRUSH_WEBHOOK_RETRY_SCHEDULE_SECONDS) + 1:
        # only reachable when earlier attempts died unrecorded (killed workers): stop claiming it forever
        _delivery_end(delivery, status=DeliveryStatus.FAILED, error="too many interrupted attempts")
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
        _attempt_record(delivery=delivery, attempted_at=attempted_at, result=result)


# The delivery path runs for every POST, so its statements are written once here instead of built by the ORM
# on every call (most of a delivery's CPU time otherwise). The claim is one conditional UPDATE that also
# returns what the attempt needs from the event and the callback URL (PostgreSQL and SQLite ≥ 3.35).
_CLAIM_SQL = """
UPDATE {delivery} SET attempts = attempts + 1, next_attempt_at = %s, queued_for = %s, updated_at = %s
WHERE id = %s AND status = %s AND attempts = %s AND next_attempt_at <= %s
RETURNING event_id, callback_url_id, attempts, last_status_code, last_error,
    (SELECT public_id FROM {event} WHERE {event}.id = {delivery}.event_id),
    (SELECT body FROM {event} WHERE {event}.id = {delivery}.event_id),
    (SELECT url FROM {callback_url} WHERE {callback_url}.id = {delivery}.callback_url_id),
    (SELECT secret FROM {callback_url} WHERE {callback_url}.id = {delivery}.callback_url_id),
    (SELECT is_active FROM {callback_url} WHERE {callback_url}.id = {delivery}.callback_url_id),
    (SELECT failing_since FROM {callback_url} WHERE {callback_url}.id = {delivery}.callback_url_id)
"""
_ATTEMPT_INSERT_SQL = """
INSERT INTO {attempt} (delivery_id, attempted_at, status_code, duration_ms, response_excerpt, error)
VALUES (%s, %s, %s, %s, %s, %s)
"""
_DELIVERED_UPDATE_SQL = """
UPDATE {delivery} SET status = %s, next_attempt_at = NULL, queued_for = NULL, last_status_code = %s,
    last_error = '', delivered_at = %s, updated_at = %s
WHERE id = %s
"""
# PostgreSQL: the attempt row and the delivery's end in one statement (atomic by itself, no BEGIN/COMMIT).
_DELIVERED_PG_SQL = (
    "WITH attempt AS (" + _ATTEMPT_INSERT_SQL.strip() + " RETURNING id)" + _DELIVERED_UPDATE_SQL
)
_sql_cache: dict[tuple[str, str], str] = {}


def _sql(template: str, name: str) -> str:
    """`template` with the quoted table names of the current database's vendor (built once per vendor)."""
    key = (connection.vendor, name)
    sql = _sql_cache.get(key)
    if sql is None:
        quote = connection.ops.quote_name
        sql = _sql_cache[key] = template.format(
            delivery=quote(Delivery._meta.db_table),
            event=quote(WebhookEvent._meta.db_table),
            callback_url=quote(CallbackUrl._meta.db_table),
            attempt=quote(DeliveryAttempt._meta.db_table),
        )
    return sql


def _datetime_param(value: datetime.datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def _delivery_claim(
    *, delivery_id: int, attempts_before: int, now: datetime.datetime, lease_until: datetime.datetime
) -> tuple[Delivery, CallbackUrl | None] | None:
    """Claims the attempt (pending, due, `attempts` unchanged) and reads it, in one statement; None if not.

    The Delivery, its event and callback URL are in-memory instances holding only what an attempt uses.
    """
    lease = _datetime_param(lease_until)
    with connection.cursor() as cursor:
        cursor.execute(
            _sql(_CLAIM_SQL, "claim"),
            [
                lease,
                lease,
                _datetime_param(now),
                delivery_id,
                DeliveryStatus.PENDING.value,
                attempts_before,
                _datetime_param(now + EARLY_TOLERANCE),
            ],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    (event_id, callback_url_id, attempts, last_status_code, last_error, public_id, body) = row[:7]
    url, secret, is_active, failing_since = row[7:]
    callback_url = None
    if callback_url_id is not None and url is not None:
        callback_url = CallbackUrl(
            id=callback_url_id, url=url, secret=secret, is_active=bool(is_active), failing_since=failing_since
        )
    delivery = Delivery(
        id=delivery_id,
        event=WebhookEvent(id=event_id, public_id=public_id, body=body),
        callback_url_id=callback_url_id,
        status=DeliveryStatus.PENDING,
        attempts=attempts,
        next_attempt_at=lease_until,
        queued_for=lease_until,
        last_status_code=last_status_code,
        last_error=last_error,
    )
    if callback_url is not None:
        delivery.callback_url = callback_url
    return delivery, callback_url


def _attempt_record_delivered(
    *,
    delivery: Delivery,
    attempted_at: datetime.datetime,
    result: transport.AttemptResult,
    url_was_failing: bool,
) -> None:
    """`_attempt_record` for a 2xx: the attempt row and the delivered delivery, in the fewest statements.

    The callback URL is only written when it was failing when the attempt was claimed.
    """
    now = timezone.now()
    delivery.status = DeliveryStatus.DELIVERED
    delivery.next_attempt_at = None
    delivery.queued_for = None
    delivery.last_status_code = result.status_code
    delivery.last_error = ""
    delivery.delivered_at = now
    delivery.updated_at = now
    attempt_params: list[Any] = [
        delivery.id,
        _datetime_param(attempted_at),
        result.status_code,
        round(result.duration_seconds * 1000),
        result.response_excerpt,
        result.error,
    ]
    delivered_params: list[Any] = [
        DeliveryStatus.DELIVERED.value,
        result.status_code,
        _datetime_param(now),
        _datetime_param(now),
        delivery.id,
    ]
    if connection.vendor == "postgresql" and not url_was_failing:
        with connection.cursor() as cursor:
            cursor.execute(_sql(_DELIVERED_PG_SQL, "delivered_pg"), attempt_params + delivered_params)
    else:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_sql(_ATTEMPT_INSERT_SQL, "attempt_insert"), attempt_params)
            if url_was_failing and delivery.callback_url_id is not None:
                CallbackUrl.objects.filter(pk=delivery.callback_url_id, failing_since__isnull=False).update(
                    failing_since=None
                )
            cursor.execute(_sql(_DELIVERED_UPDATE_SQL, "delivered_update"), delivered_params)
    logger.info(
        "delivery %s of event %s delivered (attempt %s: HTTP %s in %.3fs)",
        delivery.id,
        delivery.event.public_id,
        delivery.attempts,
        result.status_code,
        result.duration_seconds,
    )


@transaction.atomic
def _attempt_record(
    *, delivery: Delivery, attempted_at: datetime.datetime, result: transport.AttemptResult
) -> None:
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
    delivery.last_error = result.error or ("" if result.succeeded else f"HTTP {result.status_code}")
    if result.succeeded:
        CallbackUrl.objects.filter(pk=callback_url_id, failing_since__isnull=False).update(failing_since=None)
        _delivery_end(delivery, status=DeliveryStatus.DELIVERED)
        return
    logger.info(
        "delivery %s of event %s: attempt %s failed (%s)",
        delivery.id,
        delivery.event.public_id,
        delivery.attempts,
        delivery.last_error,
    )
    if result.status_code == 410:
        _delivery_end(delivery, status=DeliveryStatus.FAILED)
        callback_url_disable(callback_url_id=callback_url_id, reason="The receiver answered 410 Gone")
        return
    CallbackUrl.objects.filter(pk=callback_url_id, failing_since__isnull=True).update(
        failing_since=attempted_at
    )
    failing_since = CallbackUrl.objects.values_list("failing_since", flat=True).get(pk=callback_url_id)
    disable_after = datetime.timedelta(seconds=settings.CRUSH_WEBHOOK_DISABLE_AFTER_FAILING_SECONDS)
    if failing_since is not None and attempted_at - failing_since >= disable_after:
        _delivery_end(delivery, status=DeliveryStatus.FAILED)
        callback_url_disable(
            callback_url_id=callback_url_id,
            reason=f"Every delivery failed for {disable_after.total_seconds() / 86400:g} days",
        )
        return
    retry_after = result.retry_after_seconds if result.status_code in (429, 503) else None
    delay_seconds = retry_delay_seconds(attempts_made=delivery.attempts, retry_after_seconds=retry_after)
    if delay_seconds is None:
        _delivery_end(delivery, status=DeliveryStatus.FAILED)
        logger.warning("delivery %s of event %s failed for good", delivery.id, delivery.event.public_id)
        return
    due = timezone.now() + datetime.timedelta(seconds=delay_seconds)
    delivery.next_attempt_at = due
    delivery.queued_for = due if delay_seconds <= MAX_COUNTDOWN_SECONDS else None
    delivery.save(
        update_fields=["last_status_code", "last_error", "next_attempt_at", "queued_for", "updated_at"]
    )
    if delivery.queued_for is not None:
        _attempt_enqueue_on_commit(delivery.id, delivery.attempts, countdown=delay_seconds)


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


def _delivery_end(delivery: Delivery, *, status: DeliveryStatus, error: str | None = None) -> None:
    delivery.status = status
    delivery.next_attempt_at = None
    delivery.queued_for = None
    if error is not None:
        delivery.last_error = error
    if status == DeliveryStatus.DELIVERED:
        delivery.delivered_at = timezone.now()
        logger.info("delivery %s of event %s delivered", delivery.id, delivery.event.public_id)
    delivery.save(
        update_fields=[
            "status",
            "next_attempt_at",
            "queued_for",
            "last_status_code",
            "last_error",
            "delivered_at",
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
            _attempt_enqueue_on_commit(delivery_id, attempts)
            requeued += 1
    if requeued:
        logger.info("re-enqueued %s webhook deliveries", requeued)
    return requeued
