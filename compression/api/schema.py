"""OpenAPI pieces shared by the compression views: request bodies per content type and the error answers."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, inline_serializer
from rest_framework import serializers

from compression.api.serializers import CompressInputSerializer

ERROR_SERIALIZER = inline_serializer(
    "Error", {"message": serializers.CharField(), "code": serializers.CharField()}
)
VALIDATION_ERROR_SERIALIZER = inline_serializer(
    "ValidationError",
    {
        "message": serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()), help_text="{field: [messages]}"
        ),
        "code": serializers.CharField(),
    },
)

_ERROR_DESCRIPTIONS = {
    401: "Missing, invalid or revoked token",
    403: "Quota used up, account disabled, or plain HTTP when HTTPS is required",
    404: "Not found, or not this account's",
    413: "File larger than the account's file_max_size",
    415: "Not a supported, well-formed image or PDF (decided by content)",
    422: "Validation failed",
    429: "Rate limited (Retry-After header)",
}


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    return {
        status: OpenApiResponse(
            response=VALIDATION_ERROR_SERIALIZER if status == 422 else ERROR_SERIALIZER,
            description=_ERROR_DESCRIPTIONS[status],
        )
        for status in statuses
    }


COMPRESS_REQUEST: dict[str, Any] = {
    "multipart/form-data": CompressInputSerializer,
    "application/json": CompressInputSerializer,
    "application/x-www-form-urlencoded": CompressInputSerializer,
}

COMPRESS_EXAMPLES = [
    OpenApiExample(
        "image_url with two resize styles",
        value={
            "image_url": "https://example.com/images/photo.jpg",
            "compression_type": "lossy",
            "compression_level": "65",
            "resize": [
                {"style": "thumb", "strategy": "crop", "width": 320, "height": 100},
                {"style": "pico", "strategy": "fit", "width": 80, "height": 25},
            ],
        },
        request_only=True,
        media_type="application/json",
    ),
]

FILE_RESPONSE = OpenApiResponse(
    response=OpenApiTypes.BINARY,
    description="The file (or, with S3 storage, a redirect to a short-lived presigned URL); 304 on a "
    "matching If-None-Match",
)
