"""/kraken/user_status: the account's plan and this month's quota, in bytes."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import selectors
from accounts.api.imagerecycle.serializers import allowance
from accounts.authentication import request_account
from crush.api.surfaces.kraken import COMMON_ERRORS, KrakenApi, error_responses

USER_STATUS_SERIALIZER = inline_serializer(
    "KrakenUserStatus",
    {
        "success": serializers.BooleanField(),
        "active": serializers.BooleanField(),
        "plan_name": serializers.CharField(),
        "quota_total": serializers.IntegerField(allow_null=True, help_text="Bytes a month; null: unlimited"),
        "quota_used": serializers.IntegerField(help_text="Bytes this month (every surface counts)"),
        "quota_remaining": serializers.IntegerField(allow_null=True, help_text="null: unlimited"),
    },
)


class UserStatusApi(KrakenApi):
    @extend_schema(
        operation_id="kraken_user_status",
        request=inline_serializer("KrakenAuthOnly", {"auth": serializers.DictField()}),
        responses={200: USER_STATUS_SERIALIZER, **error_responses(*COMMON_ERRORS)},
    )
    def post(self, request: Request) -> Response:
        account = request_account(request)

        total = allowance(account)
        used = selectors.quota_used_this_month(account=account)

        return Response(
            {
                "success": True,
                "active": account.is_active,
                "plan_name": account.plan_name,
                "quota_total": total,
                "quota_used": used,
                "quota_remaining": None if total is None else max(total - used, 0),
            }
        )
