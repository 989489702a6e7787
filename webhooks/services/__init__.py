"""The webhooks' services (STYLE.md §7), one module per concern; the app's write API is re-exported here.

- `callback_urls`: the receivers an account registers (validation, secret, delete/disable/enable).
- `outbox`: events (an original image ended, an account changed), written in the caller's transaction with one
  pending Delivery per active callback URL.
- `delivery`: the attempt state machine (claim → POST → record → deliver, retry or fail) and the requeue of
  lost deliveries; its raw SQL statements live in `delivery_sql`.
"""

from webhooks.services.callback_urls import (
    MAX_CALLBACK_URLS_PER_ACCOUNT,
    callback_url_add,
    callback_url_check,
    callback_url_create,
    callback_url_delete,
    callback_url_disable,
    callback_url_enable,
    image_callback_url_create,
)
from webhooks.services.delivery import deliveries_requeue_lost, delivery_attempt, retry_delay_seconds
from webhooks.services.outbox import (
    NoActiveCallbackUrl,
    account_event_emit,
    event_id_generate,
    image_callback_emit,
    original_image_event_emit,
    webhook_event_resend,
    webhook_events_prune,
)

__all__ = [
    "MAX_CALLBACK_URLS_PER_ACCOUNT",
    "NoActiveCallbackUrl",
    "account_event_emit",
    "callback_url_add",
    "callback_url_check",
    "callback_url_create",
    "callback_url_delete",
    "callback_url_disable",
    "callback_url_enable",
    "deliveries_requeue_lost",
    "delivery_attempt",
    "event_id_generate",
    "image_callback_emit",
    "image_callback_url_create",
    "original_image_event_emit",
    "retry_delay_seconds",
    "webhook_event_resend",
    "webhook_events_prune",
]
