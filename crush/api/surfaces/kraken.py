"""The Kraken.io API (`/kraken/`; docs/kraken.md): errors, base views, schema, links.

Kraken's clients post to `<root>/v1/url`, `<root>/v1/upload` and `<root>/user_status`, `auth` inside the body;
every answer carries `success`, errors `{"success": false, "message"}`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.response import Response

from crush.api.errors import ApiError
from crush.api.surface import Surface, sentence
from crush.api.views import PublicSurfaceApi, SurfaceApi
from crush.lib.errors import QuotaExceeded

PAYMENT_REQUIRED = 402


class KrakenSurface(Surface):
    name = "kraken"
    prefix = "/kraken"
    mount = "/kraken"  # api.kraken.io/v1/upload is /kraken/v1/upload here
    authentication = "accounts.authentication.KrakenAuthentication"

    def error_body(self, status: int, message: Any, code: str) -> dict[str, Any]:
        return {"success": False, "message": sentence(message), "code": code}

    def error_response(self, error: ApiError) -> Response:
        # Kraken answers 402 for an account that must pay before it goes on (its allowance used up), 403 for
        # a suspended one (Crush: disabled).
        if error.code == QuotaExceeded.code:
            error = replace(error, status=PAYMENT_REQUIRED)
        return super().error_response(error)


KRAKEN = KrakenSurface()


class KrakenApi(SurfaceApi):
    """Every authenticated /kraken/ view: `auth: {"api_key", "api_secret"}` in the body → the account."""

    surface = KRAKEN


class KrakenPublicApi(PublicSurfaceApi):
    surface = KRAKEN


# --- schema: the error answers


class ErrorSerializer(serializers.Serializer):
    success = serializers.BooleanField(help_text="Always false")
    message = serializers.CharField()
    code = serializers.CharField(help_text="Stable snake_case error code")

    class Meta:
        ref_name = "KrakenError"


_ERROR_DESCRIPTIONS = {
    400: "Invalid JSON (the body, or the multipart `data` field)",
    401: "Missing auth, or an invalid or revoked api_key/api_secret",
    402: "The monthly allowance is used up",
    403: "Account disabled",
    413: "File larger than the account's file_max_size",
    415: "Not a supported, well-formed image or PDF (decided by content)",
    422: "Invalid parameter (e.g. an unknown resize strategy)",
    429: "Rate limited (Retry-After header)",
}
COMMON_ERRORS = (400, 401, 402, 403, 429)


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """Schema answers for the statuses an operation may give, in the surface's error shape."""
    return {
        status: OpenApiResponse(response=ErrorSerializer, description=_ERROR_DESCRIPTIONS[status])
        for status in statuses
    }


# --- links

DEFAULT_FILENAME = "file"  # a download link's last segment when the stored file has no name


def download_link(base_url: str, *, token: str, filename: str) -> str:
    """`{base}/kraken/files/{token}/{filename}`: under the surface's mount, so a host serving Kraken at its
    root hands out links it also serves."""
    return KRAKEN.link(base_url, "files", token, filename or DEFAULT_FILENAME)


def placeholder_link(base_url: str) -> str:
    """`dev: true` answers point here: a 1×1 PNG (nothing is compressed, nothing stored)."""
    return KRAKEN.link(base_url, "dev", "placeholder.png")
