"""/v1/callback_urls and /v1/webhook_events (API.md §1 "Endpoints" and "Webhooks")."""

from __future__ import annotations

import json
from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.authentication import request_account
from crush.api.surfaces.crushpics import (
    PAGE_PARAMETERS,
    CrushPicsApi,
    CrushPicsPagination,
    PaginationOutputSerializer,
)
from crush.lib.timestamps import UtcTimestampField
from crush.lib.urls import url_masked
from webhooks import selectors, services
from webhooks.models import WebhookEvent


class CallbackUrlSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.SerializerMethodField(help_text="A password in the URL is shown as ***")
    disabled = serializers.SerializerMethodField(
        help_text="True once deliveries stopped (410, 5 days failing)"
    )
    created_at = UtcTimestampField()

    def get_url(self, callback_url: Any) -> str:
        return url_masked(callback_url.url)

    def get_disabled(self, callback_url: Any) -> bool:
        return not callback_url.is_active


class CallbackUrlInputSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=2048, trim_whitespace=True)


class CallbackUrlListSerializer(serializers.Serializer):
    callback_urls = CallbackUrlSerializer(many=True)


class CallbackUrlCreatedSerializer(CallbackUrlSerializer):
    secret = serializers.CharField(help_text="whsec_…: the signing secret, shown only in this answer")


_CREATED_ENVELOPE = inline_serializer(
    "CallbackUrlCreatedEnvelope", fields={"callback_url": CallbackUrlCreatedSerializer()}
)


class CallbackUrlListCreateApi(CrushPicsApi):
    """GET lists, POST creates: one path, so one view with both operations."""

    @extend_schema(operation_id="callback_urls_list", responses={200: CallbackUrlListSerializer})
    def get(self, request: Request) -> Response:
        callback_urls = selectors.callback_url_list(account=request_account(request))
        return Response(CallbackUrlListSerializer({"callback_urls": callback_urls}).data)

    @extend_schema(
        operation_id="callback_urls_create",
        description="Registers a callback URL (201), or answers the account's existing one at that address "
        "(200): clients such as the Crush.pics WordPress plugin register it again on every settings check.",
        request=CallbackUrlInputSerializer,
        responses={
            201: _CREATED_ENVELOPE,
            200: _CREATED_ENVELOPE,
        },
    )
    def post(self, request: Request) -> Response:
        data = CallbackUrlInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        callback_url, created = services.callback_url_add(
            account=request_account(request), url=data.validated_data["url"], field="url"
        )
        return Response(
            {"callback_url": CallbackUrlCreatedSerializer(callback_url).data},
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class CallbackUrlDeleteApi(CrushPicsApi):
    @extend_schema(operation_id="callback_urls_delete", responses={204: None})
    def delete(self, request: Request, callback_url_id: int) -> Response:
        callback_url = selectors.callback_url_get(
            account=request_account(request),
            callback_url_id=callback_url_id,
        )
        services.callback_url_delete(callback_url=callback_url)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DeliverySerializer(serializers.Serializer):
    callback_url_id = serializers.IntegerField(allow_null=True)
    url = serializers.SerializerMethodField()
    status = serializers.CharField()
    attempts = serializers.IntegerField()
    last_status_code = serializers.IntegerField(allow_null=True)
    last_error = serializers.CharField()
    next_attempt_at = UtcTimestampField()
    delivered_at = UtcTimestampField()

    def get_url(self, delivery: Any) -> str | None:
        return url_masked(delivery.callback_url.url) if delivery.callback_url is not None else None


class WebhookEventSerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id", help_text="evt_…, the webhook-id header")
    event = serializers.CharField(source="event_type")
    image_id = serializers.IntegerField(allow_null=True, help_text="null for an event about the account")
    created_at = UtcTimestampField()
    payload = serializers.SerializerMethodField(help_text="The body as sent")
    deliveries = DeliverySerializer(many=True)

    def get_payload(self, webhook_event: WebhookEvent) -> dict:
        return json.loads(webhook_event.body)


class WebhookEventPageSerializer(serializers.Serializer):
    webhook_events = WebhookEventSerializer(many=True)
    pagination = PaginationOutputSerializer()


class WebhookEventEnvelopeSerializer(serializers.Serializer):
    webhook_event = WebhookEventSerializer()


class WebhookEventListApi(CrushPicsApi):
    @extend_schema(
        operation_id="webhook_events_list",
        parameters=PAGE_PARAMETERS,
        responses={200: WebhookEventPageSerializer},
    )
    def get(self, request: Request) -> Response:
        paginator = CrushPicsPagination(items_key="webhook_events")
        events = selectors.webhook_event_list(account=request_account(request))

        rows = paginator.paginate_queryset(events, request)

        return paginator.get_paginated_response(WebhookEventSerializer(rows, many=True).data)


class WebhookEventResendApi(CrushPicsApi):
    @extend_schema(
        operation_id="webhook_events_resend", request=None, responses={202: WebhookEventEnvelopeSerializer}
    )
    def post(self, request: Request, event_id: str) -> Response:
        account = request_account(request)
        webhook_event = selectors.webhook_event_get(account=account, public_id=event_id)
        services.webhook_event_resend(webhook_event=webhook_event)
        webhook_event = selectors.webhook_event_get(account=account, public_id=event_id)
        return Response(
            WebhookEventEnvelopeSerializer({"webhook_event": webhook_event}).data,
            status=status.HTTP_202_ACCEPTED,
        )
