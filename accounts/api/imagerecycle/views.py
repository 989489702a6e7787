"""/imagerecycle/v1/accounts/…: the account, its consumption and its sub-accounts (API.md §2).

The original PHP client sends every non-POST call's fields in the query string (PUT included), others send a
form or JSON body; `_fields` reads both, the body winning.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import selectors, services
from accounts.api.imagerecycle.serializers import (
    AccountMineSerializer,
    ConsumptionEnvelopeSerializer,
    SubAccountInputSerializer,
    SubAccountListSerializer,
    SubAccountSerializer,
    SuccessSerializer,
    allowance,
    day_timestamp,
)
from accounts.authentication import request_account
from accounts.models import Account
from crush.api.surfaces.imagerecycle import COMMON_ERRORS, ImageRecycleApi, error_responses
from crush.lib.errors import ValidationFailed

_ERRORS = COMMON_ERRORS


def _fields(request: Request) -> dict[str, Any]:
    fields = {key: request.query_params.get(key) for key in request.query_params}
    data: Any = request.data
    if hasattr(data, "keys"):
        fields.update({key: data.get(key) for key in data.keys()})
    fields.pop("auth", None)
    return fields


def _sub_account_input(request: Request) -> dict[str, Any]:
    serializer = SubAccountInputSerializer(data=_fields(request))
    if not serializer.is_valid():
        raise ValidationFailed(serializer.errors)
    return SubAccountInputSerializer.service_fields(serializer.validated_data)


def _sub_account_data(
    parent: Account, sub_account_id: int, *, api_secret: str | None = None
) -> dict[str, Any]:
    """The sub-account as API.md shows it, re-read so usage and key are current."""
    sub_account = selectors.sub_account_get(account=parent, sub_account_id=sub_account_id)
    return _sub_account_row(sub_account, api_secret=api_secret)


def _sub_account_row(sub_account: Account, *, api_secret: str | None = None) -> dict[str, Any]:
    """`sub_account` comes from sub_account_list_live/sub_account_get (annotated with usage and key)."""
    summary = selectors.quota_summary(account=sub_account)
    return SubAccountSerializer(
        {
            "id": sub_account.id,
            "title": sub_account.title,
            "description": sub_account.description,
            "quota_start": day_timestamp(summary.start),
            "quota_end": day_timestamp(summary.end),
            "quota_current": sub_account.quota_used_bytes,  # type: ignore[attr-defined]
            "quota_allowed": allowance(sub_account),
            "file_max_size": sub_account.file_max_size,
            "quota_file_max_size": sub_account.file_max_size,
            "api_key": sub_account.live_api_key,  # type: ignore[attr-defined]
            "api_secret": api_secret,
        }
    ).data


class AccountMineApi(ImageRecycleApi):
    """The calling account's quota window, usage and limits."""

    @extend_schema(
        operation_id="imagerecycle_account_mine",
        responses={200: AccountMineSerializer, **error_responses(*_ERRORS)},
    )
    def get(self, request: Request) -> Response:
        account = request_account(request)

        summary = selectors.quota_summary(account=account)

        return Response(
            AccountMineSerializer(
                {
                    "quota_start": day_timestamp(summary.start),
                    "quota_end": day_timestamp(summary.end),
                    "quota_current": summary.used_bytes,
                    "quota_allowed": allowance(account),
                    "file_max_size": account.file_max_size,
                }
            ).data
        )


class AccountConsumptionApi(ImageRecycleApi):
    """Bytes before/after and files per day (last 30) and per month (last 12)."""

    @extend_schema(
        operation_id="imagerecycle_account_consumption",
        responses={200: ConsumptionEnvelopeSerializer, **error_responses(*_ERRORS)},
    )
    def get(self, request: Request) -> Response:
        summary = selectors.consumption_summary(account=request_account(request))

        return Response(
            ConsumptionEnvelopeSerializer({"consumption": summary, "consumptions": summary.last_days}).data
        )


class SubAccountsApi(ImageRecycleApi):
    """GET: list; POST: create (answers the new key and secret, the secret only this once)."""

    @extend_schema(
        operation_id="imagerecycle_sub_accounts_list",
        responses={200: SubAccountListSerializer, **error_responses(*_ERRORS)},
    )
    def get(self, request: Request) -> Response:
        rows = selectors.sub_account_list_live(account=request_account(request))

        return Response({"items": [_sub_account_row(row) for row in rows]})

    @extend_schema(
        operation_id="imagerecycle_sub_accounts_create",
        request=SubAccountInputSerializer,
        responses={201: SubAccountSerializer, **error_responses(*_ERRORS)},
    )
    def post(self, request: Request) -> Response:
        fields = _sub_account_input(request)
        parent = request_account(request)

        sub_account, issued = services.sub_account_create(parent=parent, **fields)

        return Response(_sub_account_data(parent, sub_account.id, api_secret=issued.secret), status=201)


class SubAccountApi(ImageRecycleApi):
    """One sub-account of the caller: GET, PUT (edit), DELETE (revokes its credentials, keeps its images)."""

    @extend_schema(
        operation_id="imagerecycle_sub_account_get",
        responses={200: SubAccountSerializer, **error_responses(*_ERRORS, 404)},
    )
    def get(self, request: Request, sub_account_id: int) -> Response:
        return Response(_sub_account_data(request_account(request), sub_account_id))

    @extend_schema(
        operation_id="imagerecycle_sub_account_update",
        request=SubAccountInputSerializer,
        responses={200: SubAccountSerializer, **error_responses(*_ERRORS, 404)},
    )
    def put(self, request: Request, sub_account_id: int) -> Response:
        parent = request_account(request)
        sub_account = selectors.sub_account_get(account=parent, sub_account_id=sub_account_id)
        fields = _sub_account_input(request)

        services.sub_account_update(sub_account=sub_account, **fields)

        return Response(_sub_account_data(parent, sub_account_id))

    @extend_schema(
        operation_id="imagerecycle_sub_account_delete",
        responses={200: SuccessSerializer, **error_responses(*_ERRORS, 404)},
    )
    def delete(self, request: Request, sub_account_id: int) -> Response:
        parent = request_account(request)
        sub_account = selectors.sub_account_get(account=parent, sub_account_id=sub_account_id)

        services.sub_account_delete(sub_account=sub_account)

        return Response({"Success": True})


_RESET_SECRET: dict[str, Any] = {
    "request": None,
    "responses": {200: SubAccountSerializer, **error_responses(*_ERRORS, 404)},
    "description": "Issues a new api_secret (shown in this answer only); the old one stops working.",
}
_RESET_QUOTA: dict[str, Any] = {
    "request": None,
    "responses": {200: SubAccountSerializer, **error_responses(*_ERRORS, 404)},
    "description": "Sets the sub-account's quota_current to 0 for the current month.",
}


class SubAccountResetSecretApi(ImageRecycleApi):
    """PUT per API.md; POST is accepted too (clients of the original sent either)."""

    @extend_schema(operation_id="imagerecycle_sub_account_reset_secret", **_RESET_SECRET)
    def put(self, request: Request, sub_account_id: int) -> Response:
        parent = request_account(request)
        sub_account = selectors.sub_account_get(account=parent, sub_account_id=sub_account_id)

        issued = services.api_key_reset_secret(account=sub_account)

        return Response(_sub_account_data(parent, sub_account_id, api_secret=issued.secret))

    @extend_schema(operation_id="imagerecycle_sub_account_reset_secret_post", **_RESET_SECRET)
    def post(self, request: Request, sub_account_id: int) -> Response:
        return self.put(request, sub_account_id)


class SubAccountResetQuotaApi(ImageRecycleApi):
    """PUT per API.md; POST is accepted too (clients of the original sent either)."""

    @extend_schema(operation_id="imagerecycle_sub_account_reset_quota", **_RESET_QUOTA)
    def put(self, request: Request, sub_account_id: int) -> Response:
        parent = request_account(request)
        sub_account = selectors.sub_account_get(account=parent, sub_account_id=sub_account_id)

        services.quota_reset(account=sub_account)

        return Response(_sub_account_data(parent, sub_account_id))

    @extend_schema(operation_id="imagerecycle_sub_account_reset_quota_post", **_RESET_QUOTA)
    def post(self, request: Request, sub_account_id: int) -> Response:
        return self.put(request, sub_account_id)
