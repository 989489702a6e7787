"""The outbox: an event is written with its deliveries in the caller's transaction, sent after commit."""

import datetime
import json
import logging
import secrets
import string

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from crush.lib.errors import CrushError
from crush.lib.timestamps import iso_utc
from webhooks.models import CallbackUrl, Delivery, DeliveryStatus, EventType, WebhookEvent
from webhooks.services.delivery import attempt_enqueue_on_commit

logger = logging.getLogger(__name__)

EVENT_ID_PREFIX = "evt_"
EVENT_ID_LENGTH = 24  # base62 characters: about 143 random bits


class NoActiveCallbackUrl(CrushError):
    code = "no_active_callback_url"
    status = 409
    default_message = "This account has no active callback URL"


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
    return _event_emit(
        account=account, event_type=EventType(event), image_id=original_image_id, payload=payload
    )


def image_callback_emit(*, account: Account, event: str, original_image_id: int, payload: dict) -> None:
    """The job's result to its one-job receivers (`image_callback_url_create`); the body sent is `payload`
    itself (the shape the surface that asked for it promised), the event id in the `webhook-id` header."""
    callback_url_ids = list(
        CallbackUrl.objects.filter(account=account, is_active=True, image_id=original_image_id).values_list(
            "id", flat=True
        )
    )
    if not callback_url_ids:
        return
    now = timezone.now()
    webhook_event = WebhookEvent.objects.create(
        public_id=event_id_generate(),
        account=account,
        event_type=EventType(event),
        image_id=original_image_id,
        body=json.dumps(payload, cls=DjangoJSONEncoder, separators=(",", ":"), ensure_ascii=False),
        created_at=now,
    )
    _deliveries_create(webhook_event=webhook_event, callback_url_ids=callback_url_ids)
    logger.info(
        "webhook event %s (image %s) for its own callback URL", webhook_event.public_id, original_image_id
    )


def account_event_emit(*, account: Account, event: str, payload: dict) -> WebhookEvent | None:
    """An event about the account itself (`subscription_updated`), written like an original image's: in the
    caller's transaction, None when no callback URL is active."""
    return _event_emit(account=account, event_type=EventType(event), image_id=None, payload=payload)


def _event_emit(
    *, account: Account, event_type: EventType, image_id: int | None, payload: dict
) -> WebhookEvent | None:
    callback_url_ids = list(
        CallbackUrl.objects.filter(account=account, is_active=True, image_id__isnull=True).values_list(
            "id", flat=True
        )
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
        image_id=image_id,
        body=body,
        created_at=now,
    )
    _deliveries_create(webhook_event=webhook_event, callback_url_ids=callback_url_ids)
    logger.info(
        "webhook event %s (%s, image %s) for account %s: %s deliveries",
        public_id,
        event_type.value,
        image_id,
        account.id,
        len(callback_url_ids),
    )
    return webhook_event


@transaction.atomic
def webhook_event_resend(*, webhook_event: WebhookEvent) -> list[Delivery]:
    """Sends the event again, same id and body, to every callback URL of its account that is active now."""
    callback_url_ids = list(
        CallbackUrl.objects.filter(
            account_id=webhook_event.account_id, is_active=True, image_id__isnull=True
        ).values_list("id", flat=True)
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
        attempt_enqueue_on_commit(delivery.id, 0)
    return deliveries


def webhook_events_prune() -> int:
    """Deletes events older than CRUSH_RETENTION_DAYS with nothing left to send (their logs go with them), and
    the one-job receivers as old; returns the number of events deleted."""
    cutoff = timezone.now() - datetime.timedelta(days=settings.CRUSH_RETENTION_DAYS)
    deleted, _ = (
        WebhookEvent.objects.filter(created_at__lt=cutoff)
        .exclude(deliveries__status=DeliveryStatus.PENDING)
        .delete()
    )
    # one-job receivers (Kraken's callback_url) have served their job by then
    CallbackUrl.objects.filter(image_id__isnull=False, created_at__lt=cutoff).exclude(
        deliveries__status=DeliveryStatus.PENDING
    ).delete()
    return deleted
