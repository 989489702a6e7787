"""/tinify/shrink and /tinify/output/<id> (docs/tinify.md): a thin adapter over the same submit as /v1/.

An output's id is its original's id (looked up within the calling account: another account's is a 404). A
transformed output (POST /output/<id>) is a new synchronous job on the stored original's bytes, counted like
any other compression, and answered inline (or stored in the customer's bucket).
"""

from __future__ import annotations

from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import FileResponse, HttpResponse
from django.http.response import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.authentication import request_account
from accounts.models import Account
from accounts.selectors import compression_count_this_month
from compression.api.files import AnyAccept
from compression.api.parsing import body_size_check
from compression.api.tinify.serializers import (
    COMPRESSION_TYPE,
    ORIGIN,
    OutputCommandSerializer,
    ShrinkJsonSerializer,
    ShrinkResultSerializer,
    output_command,
    shrink_data,
)
from compression.models import OptimizedImage, OriginalImage, Status
from compression.selectors import original_image_get, stored_file_open
from compression.services.options import SubmitOptions
from compression.services.store import S3Target, output_store_gcs, output_store_s3
from compression.services.submit import original_image_submit
from crush.api import jsonbody
from crush.api.surfaces.tinify import (
    COMMON_ERRORS,
    INPUT_MISSING_CODE,
    TinifyApi,
    error_responses,
    output_link,
    output_location,
)
from crush.api.views import base_url
from crush.lib.errors import CrushError, NotFound

COUNT_HEADER = "Compression-Count"
_ERRORS = COMMON_ERRORS
_IMAGE_RESPONSE = OpenApiResponse(
    response=OpenApiTypes.BINARY,
    description="The image; headers Content-Type, Content-Length, Image-Width, Image-Height",
)
_COUNT_PARAMETER = OpenApiParameter(
    COUNT_HEADER,
    int,
    OpenApiParameter.HEADER,
    response=True,
    description="Compressions this month (every answer to an authenticated request carries it)",
)


class InputMissing(CrushError):
    code = INPUT_MISSING_CODE
    status = 400
    default_message = "Input file is empty"


class OutputPending(CrushError):
    """The shrink took longer than the request waited: its job goes on (GET again shortly)."""

    code = "output_pending"
    status = 409
    default_message = "The output is still being compressed; try again in a moment."


class CountedTinifyApi(TinifyApi):
    """Every answer to an authenticated request, errors included, carries the account's
    `Compression-Count`."""

    content_negotiation_class = AnyAccept  # an `Accept: image/*` must not get a 406
    counted: Account | None = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        self.counted = request_account(request)

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        """`response` is a DRF Response, or a FileResponse for an image (DRF passes those through)."""
        response = super().finalize_response(request, response, *args, **kwargs)
        if self.counted is not None:
            response[COUNT_HEADER] = str(compression_count_this_month(account=self.counted))
        return response


class ShrinkApi(CountedTinifyApi):
    """The body is the image itself (any Content-Type, or none), or JSON `{"source": {"url": …}}`."""

    parser_classes: list[Any] = []  # the body is read as it is: DRF would skip a body without Content-Type

    @extend_schema(
        operation_id="tinify_shrink",
        summary="Compress an image",
        request={"application/octet-stream": OpenApiTypes.BINARY, "application/json": ShrinkJsonSerializer},
        parameters=[_COUNT_PARAMETER],
        responses={
            201: OpenApiResponse(ShrinkResultSerializer, description="Location: the output's URL"),
            **error_responses(*_ERRORS, 413, 415),
        },
    )
    def post(self, request: Request) -> Response:
        account = request_account(request)
        body_size_check(request, max_file_bytes=account.file_max_size)
        body = request.stream.read(account.file_max_size + 1) if request.stream is not None else b""
        if not body.strip():
            raise InputMissing()
        upload, image_url = _shrink_source(request, body)

        original = original_image_submit(
            account=account,
            options=SubmitOptions(compression_type=COMPRESSION_TYPE, origin=ORIGIN),
            base_url=base_url(request),
            upload=upload,
            image_url=image_url,
            synchronous=True,
        )

        original = original_image_get(account=account, original_image_id=original.id)
        output_id = str(original.id)
        data = shrink_data(original, _output(original), url=output_link(request, output_id))
        return Response(data, status=201, headers={"Location": output_location(request, output_id)})


def _shrink_source(request: Request, body: bytes) -> tuple[SimpleUploadedFile | None, str | None]:
    """The image's bytes, or the URL of a JSON body (told apart by content: no image starts with `{`)."""
    if not body.lstrip().startswith(b"{"):
        return SimpleUploadedFile(None, body), None  # type: ignore[arg-type]  # no name: image.<ext>
    try:
        fields = jsonbody.loads(body.decode())
    except (ValueError, UnicodeDecodeError):
        fields = None
    given = ShrinkJsonSerializer(data=fields)
    given.is_valid(raise_exception=True)
    return None, given.validated_data["source"]["url"]


def _output(original: OriginalImage, style: str = OptimizedImage.ORIGINAL_STYLE) -> OptimizedImage | None:
    """The completed output of `style` (prefetched with the original); None while it is not."""
    return next(
        (
            output
            for output in original.optimized_images.all()
            if output.style == style and output.status == Status.COMPLETED and output.file is not None
        ),
        None,
    )


class OutputApi(CountedTinifyApi):
    """GET: the compressed image. POST: a transformed version of it (resize, preserve, convert, transform),
    answered inline, or stored in the customer's bucket (`store`)."""

    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="tinify_output_get",
        summary="Download a compressed image",
        parameters=[_COUNT_PARAMETER],
        responses={200: _IMAGE_RESPONSE, **error_responses(*_ERRORS, 404)},
    )
    def get(self, request: Request, output_id: int) -> HttpResponseBase:
        original = original_image_get(account=request_account(request), original_image_id=output_id)

        output = _output(original)
        if output is None:
            raise OutputPending()

        return _image_response(output)

    @extend_schema(
        operation_id="tinify_output_transform",
        summary="Resize, convert, preserve metadata, or store a compressed image",
        request=OutputCommandSerializer,
        parameters=[_COUNT_PARAMETER],
        responses={
            200: _IMAGE_RESPONSE,
            **error_responses(*_ERRORS, 404, 413, 415),
        },
    )
    def post(self, request: Request, output_id: int) -> HttpResponseBase:
        account = request_account(request)
        source = original_image_get(account=account, original_image_id=output_id)
        given = OutputCommandSerializer(data=request.data if isinstance(request.data, dict) else {})
        given.is_valid(raise_exception=True)
        command = output_command(given.validated_data)
        if source.file is None:
            raise OutputPending()
        with stored_file_open(stored_file=source.file) as handle:
            data = handle.read()

        original = original_image_submit(
            account=account,
            options=command.options,
            base_url=base_url(request),
            upload=SimpleUploadedFile(source.filename, data),
            synchronous=True,
        )

        original = original_image_get(account=account, original_image_id=original.id)
        output = _output(original, command.style)
        if output is None:
            raise OutputPending()
        if command.store is None:
            return _image_response(output)
        assert output.file is not None  # a completed output has its file (`_output`)
        with stored_file_open(stored_file=output.file) as handle:
            store = output_store_s3 if isinstance(command.store, S3Target) else output_store_gcs
            location = store(
                target=command.store,  # type: ignore[arg-type]  # the function of its kind
                data=handle.read(),
                content_type=output.file_type,
            )
        stored = HttpResponse(b"", status=200)
        stored["Location"] = location
        _dimension_headers(stored, output)
        return stored


def _image_response(output: OptimizedImage) -> HttpResponseBase:
    """The output's bytes with their exact length, type and dimensions; never a redirect (tinify-php takes a
    3xx for an error), so files on S3 are read through."""
    stored = output.file
    if stored is None:
        raise NotFound()
    response = FileResponse(stored_file_open(stored_file=stored), content_type=stored.content_type)
    response["Content-Length"] = str(stored.size)
    response["X-Content-Type-Options"] = "nosniff"
    _dimension_headers(response, output)
    return response


def _dimension_headers(response: HttpResponseBase, output: OptimizedImage) -> None:
    if output.width is not None and output.height is not None:
        response["Image-Width"] = str(output.width)
        response["Image-Height"] = str(output.height)
