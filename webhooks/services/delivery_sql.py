"""The delivery path's hot statements, written once in SQL instead of built by the ORM on every call (most of
a delivery's CPU time otherwise). Three named operations: `delivery_claim`, `attempt_insert` and
`delivery_delivered` (the last two in one statement on PostgreSQL: `attempt_delivered_insert`)."""

import datetime
from typing import Any

from django.db import connection

from webhooks.models import CallbackUrl, Delivery, DeliveryAttempt, DeliveryStatus, WebhookEvent
from webhooks.transport import AttemptResult

# A conditional UPDATE that also returns what the attempt needs from the event and the callback URL
# (PostgreSQL and SQLite ≥ 3.35).
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


def delivery_claim(
    *,
    delivery_id: int,
    attempts_before: int,
    due_before: datetime.datetime,
    now: datetime.datetime,
    lease_until: datetime.datetime,
) -> tuple[Delivery, CallbackUrl | None] | None:
    """Claims attempt `attempts_before + 1` (pending, due before `due_before`, `attempts` unchanged), pushes
    `next_attempt_at` and `queued_for` to `lease_until`, and reads it, in one statement; None if not claimed.

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
                _datetime_param(due_before),
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


def attempt_insert(*, delivery_id: int, attempted_at: datetime.datetime, result: AttemptResult) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            _sql(_ATTEMPT_INSERT_SQL, "attempt_insert"), _attempt_params(delivery_id, attempted_at, result)
        )


def delivery_delivered(*, delivery_id: int, status_code: int | None, delivered_at: datetime.datetime) -> None:
    """Ends the delivery as delivered (`delivered_at` is also its `updated_at`)."""
    with connection.cursor() as cursor:
        cursor.execute(
            _sql(_DELIVERED_UPDATE_SQL, "delivered_update"),
            _delivered_params(delivery_id, status_code, delivered_at),
        )


def attempt_delivered_insert(
    *,
    delivery_id: int,
    attempted_at: datetime.datetime,
    result: AttemptResult,
    delivered_at: datetime.datetime,
) -> None:
    """`attempt_insert` and `delivery_delivered` in one statement: PostgreSQL only."""
    with connection.cursor() as cursor:
        cursor.execute(
            _sql(_DELIVERED_PG_SQL, "delivered_pg"),
            _attempt_params(delivery_id, attempted_at, result)
            + _delivered_params(delivery_id, result.status_code, delivered_at),
        )


def _attempt_params(delivery_id: int, attempted_at: datetime.datetime, result: AttemptResult) -> list[Any]:
    return [
        delivery_id,
        _datetime_param(attempted_at),
        result.status_code,
        round(result.duration_seconds * 1000),
        result.response_excerpt,
        result.error,
    ]


def _delivered_params(
    delivery_id: int, status_code: int | None, delivered_at: datetime.datetime
) -> list[Any]:
    at = _datetime_param(delivered_at)
    return [DeliveryStatus.DELIVERED.value, status_code, at, at, delivery_id]


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
