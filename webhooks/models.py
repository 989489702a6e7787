"""Callback URLs, the webhook outbox (events) and the delivery log.

An event's `body` is the exact JSON text that is signed and sent on every attempt; it is written once, in the
transaction that made the change it reports (an original image ended, an account's plan changed), and never
changed.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from accounts.models import Account


class EventType(models.TextChoices):
    OPTIMIZED = "optimized"
    ERROR = "error"
    SUBSCRIPTION_UPDATED = "subscription_updated"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class CallbackUrl(models.Model):
    """Where an account's events are POSTed. `secret` (`whsec_…`) is needed in clear to sign, so it is stored
    as is; it is shown once at creation and never logged or displayed again."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="callback_urls")
    url = models.URLField(max_length=2048)
    secret = models.CharField(max_length=128, editable=False)
    is_active = models.BooleanField(default=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    failing_since = models.DateTimeField(
        null=True, blank=True, help_text="First failed attempt since the last success (disabled after 5 days)"
    )
    image_id = models.BigIntegerField(
        null=True,
        blank=True,
        db_index=True,
        help_text="Set: a one-job receiver (Kraken's per-request callback_url) that gets only this original "
        "image's result; it is neither listed nor counted with the account's callback URLs",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["account", "is_active"], name="callback_url_account_active")]

    def __str__(self) -> str:
        return f"callback URL {self.pk} ({self.account_id})"


class WebhookEvent(models.Model):
    public_id = models.CharField(max_length=40, unique=True, help_text="evt_…; the webhook-id header")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="webhook_events")
    event_type = models.CharField(max_length=32, choices=EventType.choices)
    image_id = models.BigIntegerField(
        null=True,
        blank=True,
        db_index=True,
        help_text="The original image the event is about (null: the account)",
    )
    body = models.TextField(help_text="The exact JSON text signed and sent (UTF-8), frozen at creation")
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["account", "-created_at"], name="webhook_event_account_created")]

    def __str__(self) -> str:
        return self.public_id


class Delivery(models.Model):
    """One event to one callback URL. `next_attempt_at` is when the next attempt is due (pending only);
    `queued_for` is when the broker message carrying it should run — null when the periodic sweeper is
    meant to dispatch it. A pending delivery due well past `queued_for` lost its message and is
    re-enqueued."""

    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    callback_url = models.ForeignKey(
        CallbackUrl, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    queued_for = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(
                fields=["next_attempt_at"], name="delivery_pending_due", condition=Q(status="pending")
            ),
            models.Index(fields=["callback_url", "status"], name="delivery_url_status"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="pending") | Q(next_attempt_at__isnull=False),
                name="delivery_pending_has_due",
            ),
        ]

    def __str__(self) -> str:
        return f"delivery {self.pk} of {self.event_id} ({self.status})"


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    attempted_at = models.DateTimeField(db_index=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField()
    response_excerpt = models.TextField(blank=True, help_text="First 1 KiB of the answer")
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["attempted_at", "id"]

    def __str__(self) -> str:
        return f"attempt {self.pk} of delivery {self.delivery_id}"
