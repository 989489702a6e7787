"""/v1/compress, /v1/original_images (+ the /v1/images alias): validate input → service/selector → present.

`original_images` answers GET (list) and POST (async submit) on one path, and `original_images/{id}` GET and
DELETE, so those pairs share a view class: Django routes a path to one view.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.authentication import request_account
from compression.api.parsing import COMPRESS_PARSERS, body_size_check, compress_input
from compression.api.schema import COMPRESS_EXAMPLES, COMPRESS_REQUEST
from compression.api.serializers import (
    CompressInputSerializer,
    OriginalImageEnvelopeSerializer,
    OriginalImageListOutputSerializer,
    validated,
)
from compression.presenters import original_image_data
from compression.selectors import original_image_get, original_image_list
from compression.services.files import original_image_delete
from compression.services.submit import original_image_submit
from crush.api.surfaces.crushpics import PAGE_PARAMETERS, CrushPicsApi, CrushPicsPagination, error_responses
from crush.api.views import base_url

_SUBMIT_ERRORS = error_responses(401, 402, 403, 413, 415, 422, 429)
_READ_ERRORS = error_responses(401, 404, 429)
_LIST_SCHEMA: dict[str, Any] = {
    "parameters": PAGE_PARAMETERS,
    "responses": {200: OriginalImageListOutputSerializer, **error_responses(401, 422, 429)},
}


def _submit(request: Request, *, synchronous: bool) -> dict[str, Any]:
    account = request_account(request)
    body_size_check(request, max_file_bytes=account.file_max_size)
    attrs = validated(CompressInputSerializer, compress_input(request))
    original = original_image_submit(
        account=account,
        options=CompressInputSerializer.options(attrs),
        base_url=base_url(request),
        upload=attrs.get("file"),
        image_url=attrs.get("image_url") or None,
        synchronous=synchronous,
    )
    if synchronous:
        original = original_image_get(account=account, original_image_id=original.id)
    return {"success": True, "original_image": original_image_data(original, base_url=base_url(request))}


class CompressApi(CrushPicsApi):
    parser_classes = COMPRESS_PARSERS

    @extend_schema(
        operation_id="compress",
        summary="Compress synchronously",
        description="Runs the compression inline and answers with the original and every optimized image "
        "ended (completed or failed).",
        request=COMPRESS_REQUEST,
        examples=COMPRESS_EXAMPLES,
        responses={200: OriginalImageEnvelopeSerializer, **_SUBMIT_ERRORS},
    )
    def post(self, request: Request) -> Response:
        return Response(_submit(request, synchronous=True))


class OriginalImagesApi(CrushPicsApi):
    """GET: list (newest first, paginated); POST: submit asynchronously."""

    parser_classes = COMPRESS_PARSERS

    @extend_schema(
        operation_id="original_images_list", summary="List originals (newest first)", **_LIST_SCHEMA
    )
    def get(self, request: Request) -> Response:
        paginator = CrushPicsPagination(items_key="original_images")
        originals = original_image_list(account=request_account(request))

        rows = paginator.paginate_queryset(originals, request)

        url = base_url(request)
        response = paginator.get_paginated_response([original_image_data(row, base_url=url) for row in rows])
        response.data = {"success": True, **response.data}
        return response

    @extend_schema(
        operation_id="original_images_create",
        summary="Compress asynchronously",
        description="Stores the upload and answers at once with status enqueued; workers compress it and "
        "the account's callback URLs get a webhook when it ends. For image_url the download happens in the "
        "worker.",
        request=COMPRESS_REQUEST,
        examples=COMPRESS_EXAMPLES,
        responses={200: OriginalImageEnvelopeSerializer, **_SUBMIT_ERRORS},
    )
    def post(self, request: Request) -> Response:
        return Response(_submit(request, synchronous=False))


class ImageListApi(OriginalImagesApi):
    """GET /v1/images: the list under the path older clients use."""

    http_method_names = ["get", "head", "options"]

    @extend_schema(
        operation_id="images_list",
        summary="List originals (alias of GET /v1/original_images)",
        **_LIST_SCHEMA,
    )
    def get(self, request: Request) -> Response:
        return super().get(request)


class OriginalImageApi(CrushPicsApi):
    """GET: one original with its optimized images; DELETE: it, its rows and its stored files."""

    @extend_schema(
        operation_id="original_images_retrieve",
        summary="Get an original",
        responses={200: OriginalImageEnvelopeSerializer, **_READ_ERRORS},
    )
    def get(self, request: Request, original_image_id: int) -> Response:
        original = original_image_get(
            account=request_account(request),
            original_image_id=original_image_id,
        )
        return Response(
            {"success": True, "original_image": original_image_data(original, base_url=base_url(request))}
        )

    @extend_schema(
        operation_id="original_images_destroy",
        summary="Delete an original and its files",
        responses={204: None, **_READ_ERRORS},
    )
    def delete(self, request: Request, original_image_id: int) -> Response:
        original = original_image_get(
            account=request_account(request),
            original_image_id=original_image_id,
        )
        original_image_delete(original_image=original)
        return Response(status=204)
