"""The ImageRecycle API (`/imagerecycle/v1/`; API.md §2): errors, base views, pagination, schema, links."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response

from crush.api.surface import Surface, sentence
from crush.api.views import PublicSurfaceApi, SurfaceApi, base_url
from crush.lib.dbranges import BIGINT_MAX


class ImageRecycleSurface(Surface):
    name = "imagerecycle"
    prefix = "/imagerecycle/v1"
    mount = "/imagerecycle"  # api.imagerecycle.com/v1/… is /imagerecycle/v1/… here
    authentication = "accounts.authentication.ImageRecycleAuthentication"
    validation_status = 400  # the surface reports validation as a bad query (API.md §2)

    def error_body(self, status: int, message: Any, code: str) -> dict[str, Any]:
        return {"errCode": status, "errMessage": sentence(message), "code": code}


IMAGERECYCLE = ImageRecycleSurface()


class ImageRecycleApi(SurfaceApi):
    """Every authenticated /imagerecycle/v1/ view: the `auth` key/secret → the account (`request_account`)."""

    surface = IMAGERECYCLE


class ImageRecyclePublicApi(PublicSurfaceApi):
    surface = IMAGERECYCLE


# --- lists: offset/limit, larger limits lowered to the maximum (API.md §2)

LIMIT_DEFAULT = 30
LIMIT_MAX = 100


class PageInputSerializer(serializers.Serializer):
    offset = serializers.IntegerField(min_value=0, max_value=BIGINT_MAX, required=False, default=0)
    limit = serializers.IntegerField(min_value=1, required=False, default=LIMIT_DEFAULT)

    class Meta:
        ref_name = "ImageRecyclePage"


PAGE_PARAMETERS = [
    OpenApiParameter("offset", int, description="Default 0"),
    OpenApiParameter(
        "limit",
        int,
        description=f"Default {LIMIT_DEFAULT}, at most {LIMIT_MAX} (larger values are lowered to it)",
    ),
]


class PageLinkSerializer(serializers.Serializer):
    link = serializers.CharField()
    offset = serializers.IntegerField()
    limit = serializers.IntegerField()


class ImageRecyclePagination(BasePagination):
    """`{"items": [...], "total", "prev": {"link", "offset", "limit"} | null, "next": {…} | null}`."""

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any]:
        params = PageInputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        self.request = request
        self.offset = params.validated_data["offset"]
        self.limit = min(params.validated_data["limit"], LIMIT_MAX)
        self.total = queryset.count()
        return list(queryset[self.offset : self.offset + self.limit]) if self.offset < self.total else []

    def _page_link(self, offset: int) -> dict[str, Any]:
        """No `auth` in the link: the client adds its own (the secret must not travel in URLs we hand out)."""
        query = {"offset": offset, "limit": self.limit}
        path = self.request.path.rstrip("/").removeprefix(IMAGERECYCLE.prefix + "/")
        return {"link": IMAGERECYCLE.link(base_url(self.request), *path.split("/"), query=query), **query}

    def get_paginated_response(self, data: Any) -> Response:
        has_next = self.offset + self.limit < self.total
        return Response(
            {
                "items": data,
                "total": self.total,
                "prev": self._page_link(max(0, self.offset - self.limit)) if self.offset > 0 else None,
                "next": self._page_link(self.offset + self.limit) if has_next else None,
            }
        )


# --- schema: the error answers


class ErrorSerializer(serializers.Serializer):
    """Every error of the surface."""

    errCode = serializers.IntegerField(help_text="The HTTP status")
    errMessage = serializers.CharField()
    code = serializers.CharField(help_text="Stable snake_case error code")

    class Meta:
        ref_name = "ImageRecycleError"


_ERROR_DESCRIPTIONS = {
    400: "Bad query: malformed auth, params or fields",
    401: "Missing auth, or an invalid or revoked key/secret",
    403: "Quota used up or account disabled",
    404: "Not found, or not this account's",
    413: "File larger than the account's file_max_size",
    415: "Not a supported, well-formed image or PDF (decided by content)",
    429: "Rate limited (Retry-After header)",
}
# Every authenticated operation answers these (400 for a malformed `auth`).
COMMON_ERRORS = (400, 401, 403, 429)


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """Schema answers for the statuses an operation may give, in the surface's error shape."""
    return {
        status: OpenApiResponse(response=ErrorSerializer, description=_ERROR_DESCRIPTIONS[status])
        for status in statuses
    }


# --- links

DEFAULT_FILENAME = "file"  # a download link's last segment when the stored file has no name
KINDS = ("original", "optimized")


def download_link(base_url: str, *, kind: str, token: str, filename: str) -> str:
    """`{base}/imagerecycle/v1/images/{original|optimized}/{token}/{filename}`."""
    return IMAGERECYCLE.link(base_url, "images", kind, token, filename or DEFAULT_FILENAME)
