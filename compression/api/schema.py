"""OpenAPI pieces shared by the compression views: request bodies per content type, the file answer."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse

from compression.api.serializers import CompressInputSerializer

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
