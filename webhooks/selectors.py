"""Reads of webhook data; every tenant query is scoped by `account`."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Prefetch, Q, QuerySet

from accounts.models import Account
from crush.lib.errors import NotFound
from webhooks.models import CallbackUrl, Delivery, DeliveryStatus, WebhookEvent


def callback_url_list(*, account: Account) -> QuerySet[CallbackUrl]:
    """The account's own callback URLs (a sub-account's are its own), active and disabled, oldest first."""
    return CallbackUrl.objects.filter(account=account, image_id__isnull=True).order_by("id")


@dataclass(frozen=True, slots=True)
class ImageEventReceivers:
    account_wide: bool  # an active callback URL of the account
    own: bool  # an active one-job receiver of the image (Kraken's per-request callback_url)


def image_event_receivers(*, account: Account, image_id: int) -> ImageEventReceivers:
    """Who would receive an event about original image `image_id`, in one query (the caller can skip building
    payloads nobody receives)."""
    image_ids = set(
        CallbackUrl.objects.filter(
            Q(image_id__isnull=True) | Q(image_id=image_id), account=account, is_active=True
        )
        .values_list("image_id", flat=True)
        .distinct()
    )
    return ImageEventReceivers(account_wide=None in image_ids, own=image_id in image_ids)


def callback_url_get(*, account: Account, callback_url_id: int) -> CallbackUrl:
    callback_url = CallbackUrl.objects.filter(
        account=account, pk=callback_url_id, image_id__isnull=True
    ).first()
    if callback_url is None:
        raise NotFound()
    return callback_url


def webhook_event_list(*, account: Account) -> QuerySet[WebhookEvent]:
    """Newest first, with deliveries (and their URL) prefetched: two queries per page."""
    return (
        WebhookEvent.objects.filter(account=account)
        .order_by("-created_at", "-id")
        .prefetch_related(
            Prefetch("deliveries", queryset=Delivery.objects.select_related("callback_url").order_by("id"))
        )
    )


def webhook_event_get(*, account: Account, public_id: str) -> WebhookEvent:
    webhook_event = webhook_event_list(account=account).filter(public_id=public_id).first()
    if webhook_event is None:
        raise NotFound()
    return webhook_event


# --- platform-wide (the operators' landing page)


@dataclass(frozen=True, slots=True)
class DeliveryHealth:
    retrying: int  # pending after at least one failed attempt
    failed: int
    callback_urls_failing: int  # active, with deliveries failing since some time


def platform_delivery_health() -> DeliveryHealth:
    deliveries = Delivery.objects.filter(
        Q(status=DeliveryStatus.FAILED) | Q(status=DeliveryStatus.PENDING, attempts__gt=0)
    ).aggregate(
        retrying=Count("id", filter=Q(status=DeliveryStatus.PENDING)),
        failed=Count("id", filter=Q(status=DeliveryStatus.FAILED)),
    )
    return DeliveryHealth(
        retrying=deliveries["retrying"],
        failed=deliveries["failed"],
        callback_urls_failing=CallbackUrl.objects.filter(is_active=True, failing_since__isnull=False).count(),
    )
