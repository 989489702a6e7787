"""GET /v1/files/{token}/{filename}: public downloads of originals and optimized files (by secret token).

The filename part is cosmetic (the link's last segment names the download); the token alone picks the file.
Files are served inline but sandboxed: an uploaded SVG original may carry scripts, so every answer forbids
executing anything (CSP sandbox) and MIME sniffing.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.http import FileResponse, HttpResponseNotModified, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request

from compression.api.schema import FILE_RESPONSE
from compression.models import StoredFile
from compression.selectors import stored_file_get, stored_file_open
from compression.storage import file_download_url
from crush.api.surfaces.crushpics import CrushPicsPublicApi, error_responses

# Clients and CDNs may cache a file this long, never past its expiry; a deleted file may linger in caches that
# long, which is acceptable for a public-by-token link.
CACHE_MAX_AGE_SECONDS = 24 * 3600
_SANDBOX_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; sandbox"


class AnyAccept(BaseContentNegotiation):
    """Files answer whatever the Accept header says (an `Accept: image/webp` must not get a 406)."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        return next(iter(parsers), None)

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


def _etag(stored_file: StoredFile) -> str:
    return f'"{stored_file.sha256}"'


def _etag_matches(header: str, etag: str) -> bool:
    candidates = [candidate.strip() for candidate in header.split(",")]
    return any(candidate == "*" or candidate.removeprefix("W/") == etag for candidate in candidates)


def _cache_headers(response: HttpResponseBase, stored_file: StoredFile) -> HttpResponseBase:
    seconds_left = int((stored_file.expire_at - timezone.now()).total_seconds())
    response["ETag"] = _etag(stored_file)
    response["Cache-Control"] = f"public, max-age={max(0, min(CACHE_MAX_AGE_SECONDS, seconds_left))}"
    return response


class FileDownloadApi(CrushPicsPublicApi):
    content_negotiation_class = AnyAccept

    @extend_schema(
        operation_id="files_download",
        summary="Download a file",
        auth=[],
        responses={
            200: FILE_RESPONSE,
            302: OpenApiResponse(description="S3 storage: redirect to a short-lived presigned URL"),
            304: OpenApiResponse(description="Not modified (If-None-Match)"),
            **error_responses(404),
        },
    )
    def get(self, request: Request, token: str, filename: str) -> HttpResponseBase:
        return file_response(request, stored_file_get(token=token))


def file_response(request: Request, stored: StoredFile) -> HttpResponseBase:
    """The stored file (or a redirect to its presigned URL), with the cache headers; 304 when unchanged."""
    if _etag_matches(request.headers.get("If-None-Match", ""), _etag(stored)):
        return _cache_headers(HttpResponseNotModified(), stored)
    presigned = file_download_url(key=stored.key, filename=stored.filename, content_type=stored.content_type)
    if presigned is not None:
        redirect = HttpResponseRedirect(presigned)
        redirect["Cache-Control"] = "private, no-store"  # the presigned URL expires soon
        return redirect
    response = FileResponse(
        stored_file_open(stored_file=stored),
        content_type=stored.content_type,
        filename=stored.filename,
    )
    if not response.has_header("Content-Length"):
        response["Content-Length"] = str(stored.size)
    response["Content-Security-Policy"] = _SANDBOX_CSP
    response["X-Content-Type-Options"] = "nosniff"
    return _cache_headers(response, stored)
