"""Download links serve their file only when the whole link matches; `params.resize` bounds the optimized
image; `params` options beyond the documented ones are ignored."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
import pyvips
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from compression.models import OptimizedImage, OriginalImage
from tests.compression.pipeline_support import jpeg
from tests.imagerecycle.conftest import ImageRecycleClient

pytestmark = pytest.mark.django_db


def upload(client: ImageRecycleClient, name: str = "photo.jpg", **fields: Any) -> dict[str, Any]:
    response = client.post("images", {"file": SimpleUploadedFile(name, jpeg()), **fields}, multipart=True)
    assert response.status_code == 201, response.content
    return response.json()


def fetch(link: str) -> Any:
    return APIClient().get(link.removeprefix("http://testserver"))


def assert_json_404(response: Any) -> None:
    assert response.status_code == 404
    assert response.json()["errCode"] == 404


def test_download_serves_a_file_only_under_its_own_kind(ir: ImageRecycleClient) -> None:
    image = upload(ir)
    original, optimized = image["origin_url"], image["optimized_url"]

    swapped_original = original.replace("/images/original/", "/images/optimized/")
    swapped_optimized = optimized.replace("/images/optimized/", "/images/original/")

    assert swapped_original != original and swapped_optimized != optimized
    assert_json_404(fetch(swapped_original))
    assert_json_404(fetch(swapped_optimized))
    assert fetch(original).status_code == 200
    assert fetch(optimized).status_code == 200


@pytest.mark.parametrize("wrong_name", ["other.jpg", "PHOTO.JPG", "photo.jpg.png", "file"])
def test_download_name_must_be_the_stored_filename(ir: ImageRecycleClient, wrong_name: str) -> None:
    link = upload(ir)["optimized_url"]
    prefix, name = link.rsplit("/", 1)

    response = fetch(f"{prefix}/{quote(wrong_name)}")

    assert name == "photo.jpg"
    assert_json_404(response)
    assert fetch(link).status_code == 200


def test_download_link_of_a_name_needing_escapes_works(ir: ImageRecycleClient) -> None:
    link = upload(ir, name="été 2024 #1.jpg")["optimized_url"]

    response = fetch(link)

    assert response.status_code == 200
    assert_json_404(fetch(link.rsplit("/", 1)[0] + "/ete%202024%20%231.jpg"))


def test_unknown_params_and_a_list_of_resize_styles_are_ignored(ir: ImageRecycleClient) -> None:
    params = {
        "compression_type": "lossy",
        "compression_level": 42,
        "resize": [{"style": "small", "strategy": "fit", "width": 10, "height": 10}],
        "unknown_option": {"nested": True},
    }

    image = upload(ir, params=json.dumps(params))

    original = OriginalImage.objects.get(pk=image["id"])
    assert (original.compression_type, original.compression_level) == ("lossy", 42)
    styles = list(OptimizedImage.objects.filter(original=original).values_list("style", flat=True))
    assert styles == [OptimizedImage.ORIGINAL_STYLE]
    assert fetch(image["optimized_url"]).status_code == 200


@pytest.mark.parametrize(
    ("bound", "expected"),
    [
        ({"width": 200}, (200, 150)),  # the WordPress plugin: the site's largest width
        ({"height": "60"}, (80, 60)),
        ({"width": 200, "height": 100}, (133, 100)),
        ({"width": 2000}, (320, 240)),  # never enlarged
    ],
)
def test_params_resize_bounds_the_optimized_image_keeping_its_aspect(
    ir: ImageRecycleClient, bound: dict[str, Any], expected: tuple[int, int]
) -> None:
    params = json.dumps({"compression_type": "lossy", "resize": bound})
    response = ir.post(
        "images", {"file": SimpleUploadedFile("photo.jpg", jpeg(320, 240)), "params": params}, multipart=True
    )
    assert response.status_code == 201, response.content
    image = response.json()

    data = fetch(image["optimized_url"]).getvalue()
    out = pyvips.Image.new_from_buffer(data, "")
    assert (out.width, out.height) == expected
    assert (image["width"], image["height"]) == (320, 240)  # the original's, as uploaded


def test_a_bad_params_resize_is_a_400_naming_it(ir: ImageRecycleClient) -> None:
    response = ir.post(
        "images/",
        {
            "file": SimpleUploadedFile("a.jpg", jpeg(320, 240), "image/jpeg"),
            "params": json.dumps({"resize": {"width": 0}}),
        },
        multipart=True,
    )

    assert response.status_code == 400
    assert "resize" in response.json()["errMessage"] and "width" in response.json()["errMessage"]
