"""The Crush API (`/v1/`, mirroring Crush.pics; API.md §1): errors, base views, pagination, schema, links."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import serializers
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response

from crush.api.errors import ApiError
from crush.api.surface import Surface, sentence
from crush.api.views import PublicSurfaceApi, SurfaceApi
from crush.lib.dbranges import INT_MAX
from crush.lib.errors import QuotaExceeded

PAYMENT_REQUIRED = 402


class CrushPicsSurface(Surface):
    name = "crushpics"
    prefix = "/v1"
    authentication = "accounts.authentication.BearerTokenAuthentication"

    def error_body(self, status: int, message: Any, code: str) -> dict[str, Any]:
        """The original service's error: `success: false`, the message, one sentence of it for people
        (`formatted_message`, what its plugins show), and the code."""
        return {"success": False, "message": message, "formatted_message": sentence(message), "code": code}

    def error_response(self, error: ApiError) -> Response:
        if error.code == QuotaExceeded.code:  # Crush.pics' plugins read 402 as "allowance used up"
            error = replace(error, status=PAYMENT_REQUIRED)
        return super().error_response(error)


CRUSHPICS = CrushPicsSurface()


class CrushPicsApi(SurfaceApi):
    """Every authenticated /v1/ view: `Authorization: Bearer <token>` → the account (`request_account`)."""

    surface = CRUSHPICS


class CrushPicsPublicApi(PublicSurfaceApi):
    surface = CRUSHPICS


# --- lists: page/per_page, larger per_page values lowered to the maximum (API.md §1 "Endpoints")

PER_PAGE_DEFAULT = 25
PER_PAGE_MAX = 100


class PageInputSerializer(serializers.Serializer):
    page = serializers.IntegerField(min_value=1, max_value=INT_MAX, required=False, default=1)
    per_page = serializers.IntegerField(
        min_value=1,
        required=False,
        default=PER_PAGE_DEFAULT,
        help_text=f"At most {PER_PAGE_MAX}; larger values are lowered to {PER_PAGE_MAX}",
    )


PAGE_PARAMETERS = [
    OpenApiParameter("page", int, description="From 1 (default 1)"),
    OpenApiParameter(
        "per_page",
        int,
        description=f"Default {PER_PAGE_DEFAULT}, at most {PER_PAGE_MAX} (larger values are lowered to it)",
    ),
]


class PaginationOutputSerializer(serializers.Serializer):
    current = serializers.IntegerField(help_text="This page's number (from 1)")
    per_page = serializers.IntegerField()
    count = serializers.IntegerField(help_text="Items on this page")
    total_pages = serializers.IntegerField()
    total_count = serializers.IntegerField()


class CrushPicsPagination(BasePagination):
    """`{<items_key>: [...], "pagination": {"current", "per_page", "count", "total_pages", "total_count"}}`;
    a page past the last is empty."""

    def __init__(self, *, items_key: str) -> None:
        self.items_key = items_key

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any]:
        params = PageInputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        self.page = params.validated_data["page"]
        self.per_page = min(params.validated_data["per_page"], PER_PAGE_MAX)
        self.total_count = queryset.count()
        start = (self.page - 1) * self.per_page
        self.rows = list(queryset[start : start + self.per_page]) if start < self.total_count else []
        return self.rows

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            {
                self.items_key: data,
                "pagination": {
                    "current": self.page,
                    "per_page": self.per_page,
                    "count": len(self.rows),
                    "total_pages": math.ceil(self.total_count / self.per_page),
                    "total_count": self.total_count,
                },
            }
        )


# --- schema: the error answers

ERROR_SERIALIZER = inline_serializer(
    "Error",
    {
        "success": serializers.BooleanField(help_text="Always false"),
        "message": serializers.CharField(),
        "formatted_message": serializers.CharField(help_text="The message as one sentence for people"),
        "code": serializers.CharField(),
    },
)
VALIDATION_ERROR_SERIALIZER = inline_serializer(
    "ValidationError",
    {
        "success": serializers.BooleanField(help_text="Always false"),
        "message": serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()), help_text="{field: [messages]}"
        ),
        "formatted_message": serializers.CharField(help_text="`field: message; …` as one sentence"),
        "code": serializers.CharField(),
    },
)

_ERROR_DESCRIPTIONS = {
    401: "Missing, invalid or revoked token",
    402: "The monthly allowance is used up",
    403: "Account disabled, or plain HTTP when HTTPS is required",
    404: "Not found, or not this account's",
    413: "File larger than the account's file_max_size",
    415: "Not a supported, well-formed image or PDF (decided by content)",
    422: "Validation failed",
    429: "Rate limited (Retry-After header)",
}


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """Schema answers for the statuses an operation may give, in the surface's error shape."""
    return {
        status: OpenApiResponse(
            response=VALIDATION_ERROR_SERIALIZER if status == 422 else ERROR_SERIALIZER,
            description=_ERROR_DESCRIPTIONS[status],
        )
        for status in statuses
    }


# --- links

DEFAULT_FILENAME = "file"  # a download link's last segment when the stored file has no name


def file_link(base_url: str, *, token: str, filename: str) -> str:
    """`{base}/v1/files/{token}/{filename}`: the public download of a stored file."""
    return CRUSHPICS.link(base_url, "files", token, filename or DEFAULT_FILENAME)
