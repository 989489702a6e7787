"""/imagerecycle/v1/images…: list, get, add (synchronous), delete, downloads and zips (API.md §2).

A thin adapter over compression.services/selectors: the same submit, delete and files as /v1/.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO

from django.http import HttpResponseBase, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.authentication import request_account
from compression.api.files import AnyAccept, file_response
from compression.api.imagerecycle.serializers import (
    ZIP_MAX_IDS,
    ImageAddSerializer,
    ImageListSerializer,
    ImageSerializer,
    ids_parse,
    image_add_input,
    image_data,
    optimized_of,
)
from compression.api.imagerecycle.zipstream import zip_stream
from compression.api.parsing import body_size_check
from compression.models import OriginalImage, StoredFile
from compression.selectors import original_image_get, original_image_list, stored_file_get, stored_file_open
from compression.services.files import original_image_delete, original_images_delete_all
from compression.services.submit import original_image_submit
from crush.api.surfaces.imagerecycle import (
    COMMON_ERRORS,
    DEFAULT_FILENAME,
    KINDS,
    PAGE_PARAMETERS,
    ImageRecycleApi,
    ImageRecyclePagination,
    ImageRecyclePublicApi,
    error_responses,
)
from crush.api.views import base_url
from crush.lib.errors import NotFound

_ERRORS = COMMON_ERRORS
# Storage keys of originals and of optimized files start with these (compression.storage.original_key,
# optimized_key): a download link's kind must be its file's.
_KEY_PREFIXES = {"original": "originals/", "optimized": "optimized/"}
_KIND_PARAMETER = OpenApiParameter("kind", str, OpenApiParameter.PATH, enum=KINDS)


class ImagesApi(ImageRecycleApi):
    """GET: list (newest first, offset/limit); POST: add one image, synchronously; DELETE: delete all (the
    original documentation's curl example for "Delete all images" uses this path)."""

    @extend_schema(
        operation_id="imagerecycle_images_list",
        parameters=PAGE_PARAMETERS,
        responses={200: ImageListSerializer, **error_responses(*_ERRORS)},
    )
    def get(self, request: Request) -> Response:
        paginator = ImageRecyclePagination()
        originals = original_image_list(account=request_account(request))

        rows = paginator.paginate_queryset(originals, request)

        url = base_url(request)
        return paginator.get_paginated_response([image_data(row, base_url=url) for row in rows])

    @extend_schema(
        operation_id="imagerecycle_images_add",
        request=ImageAddSerializer,
        responses={201: ImageSerializer, **error_responses(*_ERRORS, 413, 415)},
    )
    def post(self, request: Request) -> Response:
        account = request_account(request)
        body_size_check(request, max_file_bytes=account.file_max_size)
        given = image_add_input(request.data)

        original = original_image_submit(
            account=account,
            options=given.options,
            base_url=base_url(request),
            upload=given.upload,
            image_url=given.url,
            synchronous=True,
        )

        original = original_image_get(account=account, original_image_id=original.id)
        return Response(image_data(original, base_url=base_url(request)), status=201)

    @extend_schema(
        operation_id="imagerecycle_images_delete_all_legacy",
        description="Same as DELETE images/all (the original documentation's curl example uses this path).",
        responses={204: None, **error_responses(*_ERRORS)},
    )
    def delete(self, request: Request) -> Response:
        original_images_delete_all(account=request_account(request))

        return Response(status=204)


class ImagesDeleteAllApi(ImageRecycleApi):
    """Deletes every image of the caller (files included)."""

    @extend_schema(
        operation_id="imagerecycle_images_delete_all", responses={204: None, **error_responses(*_ERRORS)}
    )
    def delete(self, request: Request) -> Response:
        original_images_delete_all(account=request_account(request))

        return Response(status=204)


class ImageApi(ImageRecycleApi):
    """One image of the caller: GET, DELETE (files included)."""

    @extend_schema(
        operation_id="imagerecycle_image_get",
        responses={200: ImageSerializer, **error_responses(*_ERRORS, 404)},
    )
    def get(self, request: Request, image_id: int) -> Response:
        original = original_image_get(account=request_account(request), original_image_id=image_id)

        return Response(image_data(original, base_url=base_url(request)))

    @extend_schema(
        operation_id="imagerecycle_image_delete", responses={204: None, **error_responses(*_ERRORS, 404)}
    )
    def delete(self, request: Request, image_id: int) -> Response:
        original = original_image_get(account=request_account(request), original_image_id=image_id)

        original_image_delete(original_image=original)

        return Response(status=204)


class ImageDownloadApi(ImageRecyclePublicApi):
    """The file of a download link, without auth. Unlike /v1/files/ the whole link must match: an original's
    token under /optimized/ (or the reverse), or another name than the file's, is a 404."""

    content_negotiation_class = AnyAccept

    @extend_schema(
        operation_id="imagerecycle_image_download",
        auth=[],
        parameters=[_KIND_PARAMETER],
        responses={
            (200, "*/*"): OpenApiResponse(response=OpenApiTypes.BINARY, description="The file, as stored"),
            302: OpenApiResponse(description="S3 storage: redirect to a short-lived presigned URL"),
            304: OpenApiResponse(description="Not modified (If-None-Match)"),
            **error_responses(404),
        },
    )
    def get(self, request: Request, kind: str, token: str, name: str) -> HttpResponseBase:
        if kind not in KINDS:
            raise NotFound()
        stored = stored_file_get(token=token)
        if not stored.key.startswith(_KEY_PREFIXES[kind]) or name != (stored.filename or DEFAULT_FILENAME):
            raise NotFound()
        return file_response(request, stored)


def _stored_file(original: OriginalImage, kind: str) -> StoredFile | None:
    if kind == "original":
        return original.file
    optimized = optimized_of(original)
    return optimized.file if optimized is not None else None


def _opener(stored_file: StoredFile) -> Callable[[], IO[bytes]]:
    """Opens the file when its zip entry is written; NotFound if it expired or was deleted meanwhile."""

    def open_live() -> IO[bytes]:
        return stored_file_open(stored_file=stored_file_get(token=stored_file.token))  # type: ignore[return-value]

    return open_live


class ImageZipApi(ImageRecycleApi):
    """A zip of the caller's images, streamed; every id must be the caller's (else 404), at most 100."""

    @extend_schema(
        operation_id="imagerecycle_images_zip",
        parameters=[
            _KIND_PARAMETER,
            OpenApiParameter(
                "ids",
                str,
                OpenApiParameter.PATH,
                description=f"Comma-separated image ids, at most {ZIP_MAX_IDS}",
            ),
        ],
        responses={
            (200, "application/zip"): OpenApiResponse(response=OpenApiTypes.BINARY, description="A zip"),
            **error_responses(*_ERRORS, 404),
        },
    )
    def get(self, request: Request, kind: str, ids: str) -> HttpResponseBase:
        if kind not in KINDS:
            raise NotFound()
        wanted = ids_parse(ids)
        account = request_account(request)

        originals = {row.id: row for row in original_image_list(account=account).filter(pk__in=wanted)}
        if len(originals) != len(wanted):
            raise NotFound()
        files = [(row.id, stored) for row in originals.values() if (stored := _stored_file(row, kind))]
        files = [(image_id, stored) for image_id, stored in files if stored.deleted_at is None]
        if not files:
            raise NotFound()
        order = {image_id: index for index, image_id in enumerate(wanted)}
        files.sort(key=lambda pair: order[pair[0]])

        response = StreamingHttpResponse(
            zip_stream((stored.filename or f"{image_id}", _opener(stored)) for image_id, stored in files),
            content_type="application/zip",
        )
        response["Content-Disposition"] = f'attachment; filename="images-{kind}.zip"'
        response["Cache-Control"] = "private, no-store"
        return response
