"""GET and PATCH /v1/shop: the authenticated account's settings, plan and this month's usage (API.md §1)."""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import presenters, selectors, services
from accounts.api.serializers import ShopCallbackUrlSerializer, ShopSerializer
from accounts.authentication import request_account
from accounts.models import QUALITY_TARGET_MAX, QUALITY_TARGET_MIN, Account, CompressionType
from crush.api.surfaces.crushpics import CrushPicsApi, error_responses
from crush.lib.urls import url_masked
from webhooks.selectors import callback_url_list

LEVEL_MIN = 1
LEVEL_MAX = 100
ERRORS = error_responses(401, 403, 429)


def _callback_urls(account: Account) -> list[dict[str, Any]]:
    """`[{"id", "url", "disabled"}]` of the account's callback URLs (disabled ones receive nothing)."""
    return [
        {"id": callback_url.id, "url": url_masked(callback_url.url), "disabled": not callback_url.is_active}
        for callback_url in callback_url_list(account=account)
    ]


def _shop(account: Account) -> dict[str, Any]:
    return {
        "login": account.login,
        "email": account.email,
        "compression_type": account.compression_type,
        "compression_level_jpg": account.compression_level_jpg,
        "compression_level_png": account.compression_level_png,
        "compression_level_gif": account.compression_level_gif,
        "quality_target": account.quality_target,
        "charged_at": account.charged_at,
        "next_charge_at": account.next_charge_at,
        "created_at": account.created_at,
        "updated_at": account.updated_at,
        "callback_urls": _callback_urls(account),
        "plan_data": presenters.plan_data(
            account, quota_usage=selectors.quota_used_this_month(account=account)
        ),
    }


class ShopApi(CrushPicsApi):
    # One view for both methods: a URL maps to one view class.

    class InputSerializer(serializers.Serializer):
        """Every field optional; unknown fields are ignored."""

        compression_type = serializers.ChoiceField(choices=CompressionType.choices, required=False)
        compression_level_jpg = serializers.IntegerField(
            min_value=LEVEL_MIN, max_value=LEVEL_MAX, required=False
        )
        compression_level_png = serializers.IntegerField(
            min_value=LEVEL_MIN, max_value=LEVEL_MAX, required=False
        )
        compression_level_gif = serializers.IntegerField(
            min_value=LEVEL_MIN, max_value=LEVEL_MAX, required=False
        )
        quality_target = serializers.IntegerField(
            min_value=QUALITY_TARGET_MIN,
            max_value=QUALITY_TARGET_MAX,
            required=False,
            help_text="The SSIMULACRA2 score balanced outputs reach unless a request sets its own",
        )
        email = serializers.EmailField(allow_blank=True, max_length=254, required=False)
        callback_url = serializers.CharField(
            max_length=2048,
            required=False,
            help_text="Added to the account's callback URLs unless it is one already (the rules of "
            "POST /v1/callback_urls)",
        )

        class Meta:
            ref_name = "ShopUpdate"

    class OutputSerializer(serializers.Serializer):
        shop = ShopSerializer()

        class Meta:
            ref_name = "ShopResponse"

    class UpdateOutputSerializer(serializers.Serializer):
        shop = ShopSerializer()
        callback_url = ShopCallbackUrlSerializer(
            required=False, help_text="Only when this request created it: its secret is shown only here"
        )

        class Meta:
            ref_name = "ShopUpdateResponse"

    @extend_schema(
        operation_id="shop_retrieve",
        summary="The account: settings, plan and this month's usage",
        description="The account (shop or sub-account) the token belongs to. `plan_data.quota_usage` is the "
        "original bytes counted this calendar month (UTC); a parent's includes its sub-accounts'.",
        responses={200: OutputSerializer, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        account = request_account(request)

        return Response(self.OutputSerializer({"shop": _shop(account)}).data)

    @extend_schema(
        operation_id="shop_update",
        summary="Change the default compression settings or the email, add a callback URL",
        description="Every field is optional; unknown fields are ignored. Invalid values answer 422 "
        '`{"message": {"<field>": ["…"]}}` and change nothing. `callback_url` is added to the callback URLs '
        "unless the account has it already; when it is added, the answer's `callback_url` carries its "
        "signing secret, shown only there.",
        request=InputSerializer,
        responses={
            200: UpdateOutputSerializer,
            **error_responses(401, 403, 422, 429),
        },
    )
    def patch(self, request: Request) -> Response:
        params = self.InputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        account = request_account(request)

        updated = services.shop_update(account=account, **params.validated_data)

        answer: dict[str, Any] = {"shop": _shop(updated.account)}
        if updated.callback_url_created is not None:
            answer["callback_url"] = updated.callback_url_created
        return Response(self.UpdateOutputSerializer(answer).data)
