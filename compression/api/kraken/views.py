"""/kraken/v1/url and /kraken/v1/upload (docs/kraken.md): the same submit as every surface.

`wait: true` → a synchronous job, answered with Kraken's result; a `callback_url` → an asynchronous job,
answered `{"id"}` at once, its result POSTed to that URL by the webhook machinery (signed, retried) with the
same `id`. `dev: true` → nothing compressed or counted: a placeholder result.
"""

from __future__ import annotations

from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.http import HttpResponse, HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.authentication import request_account
from compression.api.files import AnyAccept, file_response
from compression.api.kraken.serializers import (
    KrakenRequest,
    OptionsSerializer,
    QueuedSerializer,
    ResultSerializer,
    kraken_request,
    options_object,
    upload_of,
)
from compression.api.parsing import body_size_check
from compression.models import OriginalImage, Status
from compression.presenters import kraken_id, kraken_result_data
from compression.selectors import original_image_get, stored_file_get, stored_file_open
from compression.services.options import ORIGINAL_STYLE
from compression.services.store import S3Target, output_store_s3
from compression.services.submit import original_image_submit
from crush.api.surfaces.kraken import (
    COMMON_ERRORS,
    DEFAULT_FILENAME,
    KrakenApi,
    KrakenPublicApi,
    error_responses,
    placeholder_link,
)
from crush.api.views import base_url
from crush.lib.errors import CrushError, NotFound, ValidationFailed

_ERRORS = (*COMMON_ERRORS, 413, 415, 422)
_RESPONSES = {
    200: OpenApiResponse(
        PolymorphicProxySerializer(
            "KrakenAnswer", [ResultSerializer, QueuedSerializer], resource_type_field_name=None
        ),
        description='With wait: the result; with a callback_url: {"id"} at once, the result POSTed later',
    ),
    **error_responses(*_ERRORS),
}
# The smallest valid PNG (1×1, transparent): what `dev: true` answers point at.
PLACEHOLDER_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000b4944415478da6360000200"
    "00050001e9fadcd80000000049454e44ae426082"
)


class StillProcessing(CrushError):
    code = "still_processing"
    status = 503
    default_message = "The image is still being optimized; retry with a callback_url for large images."


def _dev_result(*, file_name: str, size: int, url: str) -> dict[str, Any]:
    return {
        "success": True,
        "dev": True,
        "file_name": file_name,
        "original_size": size,
        "kraked_size": size,
        "saved_bytes": 0,
        "kraked_url": url,
    }


def _optimize(request: Request, *, data: Any, upload: UploadedFile | None = None) -> Response:
    account = request_account(request)
    given = kraken_request(options_object(data))
    url = given.url if upload is None else None
    if upload is None and not url:
        raise ValidationFailed({"url": ["Send the URL of the image."]})
    if given.dev:
        name = upload.name if upload is not None else (url or "").rsplit("/", 1)[-1]
        size = upload.size if upload is not None else 0
        placeholder = placeholder_link(base_url(request))
        return Response(_dev_result(file_name=name or DEFAULT_FILENAME, size=size or 0, url=placeholder))

    original = original_image_submit(
        account=account,
        options=given.options,
        base_url=base_url(request),
        upload=upload,
        image_url=url,
        synchronous=given.wait,
    )

    if not given.wait:
        return Response({"id": kraken_id(original)})
    original = original_image_get(account=account, original_image_id=original.id)
    if original.status != Status.COMPLETED:
        raise StillProcessing()
    result = kraken_result_data(original, base_url=base_url(request))
    if given.keep_extension and "kraked_url" in result:
        result["file_name"] = original.filename
    if given.s3_store is not None:
        _bucket_store(original, result, given)
    return Response(result)


def _bucket_store(original: OriginalImage, result: dict[str, Any], given: KrakenRequest) -> None:
    """Each output into the customer's bucket (the same upload as Tinify's `store`); its `kraked_url` becomes
    the object's URL."""
    s3 = given.s3_store or {}
    path = s3.get("path", "")
    rows = {row.style: row for row in original.optimized_images.all()}
    outputs = [(ORIGINAL_STYLE, result, path or result["file_name"])] if "results" not in result else []
    for style, output in result.get("results", {}).items():
        default_key = "/".join(filter(None, (path.strip("/"), style, output.get("file_name"))))
        outputs.append((style, output, given.storage_paths.get(style, default_key)))
    for style, output, object_key in outputs:
        stored = rows[style].file
        if "kraked_url" not in output or stored is None:
            continue
        with stored_file_open(stored_file=stored) as handle:
            data = handle.read()
        target = S3Target(
            access_key_id=s3["key"],
            secret_access_key=s3["secret"],
            region=s3["region"],
            path=f"{s3['bucket']}/{object_key.lstrip('/')}",
            acl=s3["acl"],
        )
        output["kraked_url"] = output_store_s3(target=target, data=data, content_type=stored.content_type)


class UrlApi(KrakenApi):
    """An image downloaded from `url` (through the outbound guard)."""

    @extend_schema(operation_id="kraken_url", request=OptionsSerializer, responses=_RESPONSES)
    def post(self, request: Request) -> Response:
        return _optimize(request, data=request.data)


class UploadApi(KrakenApi):
    """A multipart upload: the file in any field, the options as JSON in the `data` field."""

    @extend_schema(operation_id="kraken_upload", request=OptionsSerializer, responses=_RESPONSES)
    def post(self, request: Request) -> Response:
        body_size_check(request, max_file_bytes=request_account(request).file_max_size)
        data: Any = request.data
        upload = upload_of(data)
        if upload is None:
            raise ValidationFailed({"file": ["Send the image as a multipart file."]})
        return _optimize(request, data=data.get("data") or {}, upload=upload)


class DownloadApi(KrakenPublicApi):
    """The file of a `kraked_url`, without auth (its token is the secret)."""

    content_negotiation_class = AnyAccept

    @extend_schema(
        operation_id="kraken_download",
        auth=[],
        responses={
            (200, "*/*"): OpenApiResponse(response=OpenApiTypes.BINARY, description="The file, as stored"),
            302: OpenApiResponse(description="S3 storage: redirect to a short-lived presigned URL"),
            **error_responses(),
        },
    )
    def get(self, request: Request, token: str, name: str) -> HttpResponseBase:
        stored = stored_file_get(token=token)
        if name != (stored.filename or DEFAULT_FILENAME):
            raise NotFound()
        return file_response(request, stored)


class PlaceholderApi(KrakenPublicApi):
    """What `dev: true` answers link to: a 1×1 PNG."""

    content_negotiation_class = AnyAccept

    @extend_schema(
        operation_id="kraken_dev_placeholder",
        auth=[],
        responses={(200, "image/png"): OpenApiResponse(response=OpenApiTypes.BINARY)},
    )
    def get(self, request: Request) -> HttpResponse:
        return HttpResponse(PLACEHOLDER_PNG, content_type="image/png")
