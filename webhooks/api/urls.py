from django.urls import URLPattern

from crush.api.routing import slash_optional
from webhooks.api.views import (
    CallbackUrlDeleteApi,
    CallbackUrlListCreateApi,
    WebhookEventListApi,
    WebhookEventResendApi,
)

urlpatterns: list[URLPattern] = [
    *slash_optional("callback_urls", CallbackUrlListCreateApi.as_view(), "callback-urls"),
    *slash_optional("callback_urls/<int:callback_url_id>", CallbackUrlDeleteApi.as_view(), "callback-url"),
    *slash_optional("webhook_events", WebhookEventListApi.as_view(), "webhook-events"),
    *slash_optional(
        "webhook_events/<str:event_id>/resend", WebhookEventResendApi.as_view(), "webhook-event-resend"
    ),
]
