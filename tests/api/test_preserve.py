"""`preserve` through the HTTP API: the metadata an output keeps, by whitelist, in JPEG, PNG, WebP and AVIF
outputs, read back with libvips' EXIF fields; GPS never survives unless `location` is asked."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import Account
from compression.models import OriginalImage
from tests.api.test_compress import _download
from tests.compression.engine.test_metadata_preserve import (
    ARTIST,
    COPYRIGHT,
    MAKE,
    TAKEN,
    exif_fields,
    photo_with_exif,
)
from tests.imagerecycle.conftest import client_for

URL = "/v1/compress"


def _compress(api: Any, **fields: Any) -> dict[str, Any]:
    upload = SimpleUploadedFile("photo.jpg", photo_with_exif(), content_type="image/jpeg")
    response = api.post(URL, {"file": upload, **fields}, format="multipart")
    assert response.status_code == 200, response.json()
    return response.json()["original_image"]


def _output_fields(original: dict[str, Any]) -> dict[str, str]:
    return exif_fields(_download(original["optimized_images"][0]["link"]))


def test_by_default_no_exif_survives_and_gps_least_of_all(api: Any) -> None:
    fields = _output_fields(_compress(api, compression_type="balanced"))

    assert not any(name.startswith("GPS") for name in fields)
    assert "Copyright" not in fields and "Make" not in fields


@pytest.mark.parametrize("compression_type", ["balanced", "lossy", "lossless"])
@pytest.mark.parametrize("convert", [None, "webp", "avif", "png"])
def test_copyright_and_creation_are_kept_and_nothing_else(
    api: Any, compression_type: str, convert: str
) -> None:
    if convert == "png" and compression_type != "lossless":
        pytest.skip("a photo's palette PNG misses the floor; PNG is exercised losslessly")
    fields = {"compression_type": compression_type, "preserve": "copyright,creation"}
    if convert:
        fields["convert"] = convert

    original = _compress(api, **fields)

    kept = _output_fields(original)
    assert original["preserve"] == ["copyright", "creation"]
    assert COPYRIGHT in kept["Copyright"] and ARTIST in kept["Artist"]
    assert TAKEN in kept["DateTimeOriginal"]
    assert not any(name.startswith("GPS") for name in kept)
    assert "Make" not in kept and "Model" not in kept


def test_location_and_camera_are_kept_only_when_asked(api: Any) -> None:
    kept = _output_fields(_compress(api, compression_type="lossy", preserve=["location", "camera"]))

    assert {"GPSLatitude", "GPSLongitude", "GPSLatitudeRef"} <= kept.keys()
    assert MAKE in kept["Make"]
    assert "Copyright" not in kept and "DateTimeOriginal" not in kept


def test_strip_tags_false_keeps_everything_as_before(api: Any) -> None:
    kept = _output_fields(_compress(api, compression_type="lossy", strip_tags="false"))

    assert {"GPSLatitude", "Copyright", "Make", "DateTimeOriginal"} <= kept.keys()


def test_an_unknown_item_is_a_422_naming_preserve(api: Any) -> None:
    upload = SimpleUploadedFile("photo.jpg", photo_with_exif(), content_type="image/jpeg")

    response = api.post(URL, {"file": upload, "preserve": "copyright,gps"}, format="multipart")

    assert response.status_code == 422
    assert "preserve" in response.json()["message"]


def test_the_imagerecycle_surface_passes_preserve_through(account: Account) -> None:
    client = client_for(account)
    upload = SimpleUploadedFile("photo.jpg", photo_with_exif(), content_type="image/jpeg")
    params = json.dumps({"compression_type": "lossy", "preserve": ["copyright"]})

    response = client.post("images", {"file": upload, "params": params}, multipart=True)

    assert response.status_code == 201, response.content
    assert OriginalImage.objects.get(pk=response.json()["id"]).preserve == "copyright"
    kept = exif_fields(_download(response.json()["optimized_url"]))
    assert COPYRIGHT in kept["Copyright"] and "GPSLatitude" not in kept


def test_a_php_style_form_list_is_read_whole(api: Any) -> None:
    original = _compress(api, compression_type="lossy", **{"preserve[]": ["copyright", "location"]})

    kept = _output_fields(original)
    assert original["preserve"] == ["copyright", "location"]
    assert COPYRIGHT in kept["Copyright"] and "GPSLatitude" in kept
