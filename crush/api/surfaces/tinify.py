"""The Tinify (TinyPNG) API (`/tinify/`; docs/tinify.md): errors, base view, schema, links.

Tinify's clients (`tinify` on PyPI, tinify-php, tinify-nodejs…) read an error's `error` and `message` and
pick their exception class by status alone: 401 and 429 are `AccountError`, other 4xx `ClientError`, 5xx
`ServerError` (after one retry).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from crush.api.errors import ApiError
from crush.api.surface import Surface, sentence
from crush.api.views import SurfaceApi, base_url
from crush.lib.errors import QuotaExceeded

TOO_MANY_REQUESTS = 429
INPUT_MISSING_CODE = "input_missing"
MONTHLY_LIMIT_MESSAGE = "Your monthly limit has been exceeded"

# Tinify's error kinds (its `error` values), by our code first, then by status.
_KINDS_BY_CODE = {INPUT_MISSING_CODE: "Input missing", QuotaExceeded.code: "Too many requests"}
_KINDS_BY_STATUS = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request entity too large",
    415: "Unsupported media type",
    429: "Too many requests",
}


class TinifySurface(Surface):
    name = "tinify"
    prefix = "/tinify"
    mount = "/tinify"  # api.tinify.com/shrink is /tinify/shrink here
    authentication = "accounts.authentication.TinifyAuthentication"
    validation_status = 400

    def error_body(self, status: int, message: Any, code: str) -> dict[str, Any]:
        kind = _KINDS_BY_CODE.get(code) or _KINDS_BY_STATUS.get(status)
        if kind is None:
            kind = "Internal server error" if status >= 500 else "Bad request"
        return {"error": kind, "message": sentence(message), "code": code}

    def error_response(self, error: ApiError) -> Response:
        if error.code == QuotaExceeded.code:  # the clients read 429 as "monthly limit exceeded"
            error = replace(error, status=TOO_MANY_REQUESTS, message=MONTHLY_LIMIT_MESSAGE)
        return super().error_response(error)


TINIFY = TinifySurface()


class TinifyApi(SurfaceApi):
    """Every /tinify/ view: HTTP Basic, user `api`, password an API key of the account (`request_account`)."""

    surface = TINIFY


# --- schema: the error answers


class ErrorSerializer(serializers.Serializer):
    error = serializers.CharField(help_text='The kind: "Unauthorized", "Input missing", "Too many requests"…')
    message = serializers.CharField()
    code = serializers.CharField(help_text="Stable snake_case error code")

    class Meta:
        ref_name = "TinifyError"


_ERROR_DESCRIPTIONS = {
    400: "Input missing (empty body), bad JSON or a bad option",
    401: "Missing or unknown key (HTTP Basic, user api)",
    403: "Account disabled, or plain HTTP when HTTPS is required",
    404: "No such output of this account",
    413: "File larger than the account's file_max_size",
    415: "Not a supported, well-formed image (decided by content)",
    429: "The monthly limit is used up, or rate limited (Retry-After header)",
}
COMMON_ERRORS = (400, 401, 403, 429)


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """Schema answers for the statuses an operation may give, in the surface's error shape."""
    return {
        status: OpenApiResponse(response=ErrorSerializer, description=_ERROR_DESCRIPTIONS[status])
        for status in statuses
    }


# --- links


def output_link(request: Request, output_id: str) -> str:
    """The absolute URL of `/tinify/output/<id>` (the `output.url` of /shrink)."""
    return TINIFY.link(base_url(request), "output", output_id)


def output_location(request: Request, output_id: str) -> str:
    """The `Location` of an output. The clients prepend their configured endpoint to a Location unless it
    starts with `https://`: an https request gets the absolute URL, a plain-http one the path under the
    endpoint (`/output/<id>`), which works at the `/tinify` prefix and at the root of a listed host alike."""
    if request.is_secure():
        return output_link(request, output_id)
    return f"/output/{output_id}"
