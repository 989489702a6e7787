"""Operators' view of webhooks: events with their deliveries and attempts, callback URLs; resend, re-enable.

Secrets are never displayed; URLs are shown with their password masked. Every list and inline loads its
related rows up front (select/prefetch), so a page costs a fixed number of queries.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from crush.lib.errors import CrushError
from crush.lib.urls import url_masked
from webhooks import services
from webhooks.models import CallbackUrl, Delivery, DeliveryAttempt, WebhookEvent


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class DeliveryInline(ReadOnlyInline):
    model = Delivery
    fields = (
        "callback_url_safe",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
        "next_attempt_at",
        "delivered_at",
        "attempt_log_table",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Delivery]:
        return (
            super()
            .get_queryset(request)
            .select_related("callback_url")
            .prefetch_related(
                Prefetch("attempt_log", queryset=DeliveryAttempt.objects.order_by("attempted_at"))
            )
        )

    @admin.display(description="callback URL")
    def callback_url_safe(self, delivery: Delivery) -> str:
        if delivery.callback_url is None:
            return "(deleted)"
        return url_masked(delivery.callback_url.url)

    @admin.display(description="attempts (time, status, ms, error, answer)")
    def attempt_log_table(self, delivery: Delivery) -> str:
        return format_html(
            "<table>{}</table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                (
                    (
                        f"{attempt.attempted_at:%Y-%m-%d %H:%M:%S}",
                        attempt.status_code if attempt.status_code is not None else "—",
                        attempt.duration_ms,
                        attempt.error,
                        attempt.response_excerpt[:200],
                    )
                    for attempt in delivery.attempt_log.all()
                ),
            ),
        )


class DeliveryAttemptInline(ReadOnlyInline):
    model = DeliveryAttempt
    fields = ("attempted_at", "status_code", "duration_ms", "error", "response_excerpt")
    readonly_fields = fields


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = ("public_id", "account", "event_type", "image_id", "created_at")
    list_filter = ("event_type", "deliveries__status", "created_at")
    list_select_related = ("account",)
    search_fields = ("=public_id", "=image_id", "account__login")
    readonly_fields = ("public_id", "account", "event_type", "image_id", "created_at", "body")
    date_hierarchy = "created_at"
    inlines = [DeliveryInline]
    actions = ["resend_now"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[WebhookEvent]:
        return super().get_queryset(request).distinct()  # the delivery-status filter joins deliveries

    @admin.action(description="Resend now (same id and body, to the account's active URLs)")
    def resend_now(self, request: HttpRequest, queryset: QuerySet[WebhookEvent]) -> None:
        sent = 0
        for webhook_event in queryset:
            try:
                sent += len(services.webhook_event_resend(webhook_event=webhook_event))
            except CrushError as exc:
                self.message_user(request, f"{webhook_event.public_id}: {exc.message}", messages.WARNING)
        self.message_user(request, f"{sent} delivery(ies) enqueued.")


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("id", "event", "account", "status", "attempts", "last_status_code", "next_attempt_at")
    list_filter = ("status", "last_status_code")
    list_select_related = ("event", "event__account", "callback_url")
    search_fields = ("=event__public_id", "event__account__login")
    readonly_fields = (
        "event",
        "callback_url",
        "status",
        "attempts",
        "next_attempt_at",
        "queued_for",
        "last_status_code",
        "last_error",
        "delivered_at",
        "created_at",
        "updated_at",
    )
    inlines = [DeliveryAttemptInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="account")
    def account(self, delivery: Delivery) -> str:
        return str(delivery.event.account)


@admin.register(CallbackUrl)
class CallbackUrlAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "account",
        "url_safe",
        "is_active",
        "disabled_reason",
        "failing_since",
        "created_at",
    )
    list_filter = ("is_active",)
    list_select_related = ("account",)
    search_fields = ("=id", "account__login")
    fields = (
        "account",
        "url_safe",
        "is_active",
        "disabled_at",
        "disabled_reason",
        "failing_since",
        "created_at",
    )
    readonly_fields = fields
    actions = ["re_enable"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="URL")
    def url_safe(self, callback_url: CallbackUrl) -> str:
        return url_masked(callback_url.url)

    @admin.action(description="Re-enable URL")
    def re_enable(self, request: HttpRequest, queryset: QuerySet[CallbackUrl]) -> None:
        enabled = 0
        for callback_url in queryset.filter(is_active=False):
            services.callback_url_enable(callback_url=callback_url)
            enabled += 1
        self.message_user(request, f"{enabled} callback URL(s) re-enabled.")
