"""`quality_target`: the SSIMULACRA2 floor of `balanced`, per request on both surfaces and as an account
default (`PATCH /v1/shop`); every output reports the target it was held to."""

from __future__ import annotations

import json
from typing import Any

import pytest
import pyvips
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import Account
from compression.engine.quality import ssimulacra2
from compression.models import OriginalImage
from tests.api.test_compress import _download
from tests.compression.engine.test_quality_target import scene
from tests.imagerecycle.conftest import client_for

URL = "/v1/compress"


def _photo() -> bytes:
    return scene().jpegsave_buffer(Q=95)


def _compress(api: Any, source: bytes, **fields: Any) -> dict[str, Any]:
    upload = SimpleUploadedFile("scene.jpg", source, content_type="image/jpeg")
    response = api.post(URL, {"file": upload, **fields}, format="multipart")
    assert response.status_code == 200, response.json()
    return response.json()["original_image"]


def _score(source: bytes, output: bytes) -> float:
    return ssimulacra2(pyvips.Image.new_from_buffer(source, ""), pyvips.Image.new_from_buffer(output, ""))


def test_a_request_target_is_reached_reported_and_a_lower_one_gives_fewer_bytes(api: Any) -> None:
    source = _photo()

    low = _compress(api, source, compression_type="balanced", quality_target=60)
    high = _compress(api, source, compression_type="balanced", quality_target=90)

    for target, original in ((60, low), (90, high)):
        row = original["optimized_images"][0]
        assert original["quality_target"] == row["quality_target"] == target
        assert row["ssimulacra2"] >= target
        assert _score(source, _download(row["link"])) >= target - 1.0
    assert low["optimized_images"][0]["size"] < high["optimized_images"][0]["size"]


def test_the_account_default_applies_when_a_request_sets_none(api: Any, account: Account) -> None:
    changed = api.patch("/v1/shop", {"quality_target": 65}, format="json")
    assert changed.status_code == 200, changed.json()
    assert changed.json()["shop"]["quality_target"] == 65
    assert api.get("/v1/shop").json()["shop"]["quality_target"] == 65

    original = _compress(api, _photo(), compression_type="balanced")

    assert original["quality_target"] == 65
    assert original["optimized_images"][0]["ssimulacra2"] >= 65


def test_lossy_and_lossless_outputs_report_no_target(api: Any) -> None:
    original = _compress(api, _photo(), compression_type="lossy", quality_target=70)

    assert original["quality_target"] is None
    assert original["optimized_images"][0]["quality_target"] is None


@pytest.mark.parametrize("value", [49, 96, "high"])
def test_a_target_outside_50_to_95_is_a_422_naming_the_field(api: Any, value: Any) -> None:
    upload = SimpleUploadedFile("scene.jpg", _photo(), content_type="image/jpeg")

    response = api.post(URL, {"file": upload, "quality_target": value}, format="multipart")
    shop = api.patch("/v1/shop", {"quality_target": value}, format="json")

    assert response.status_code == 422
    assert "quality_target" in response.json()["message"]
    assert shop.status_code == 422
    assert "quality_target" in shop.json()["message"]


def test_the_imagerecycle_surface_passes_the_target_through(account: Account) -> None:
    client = client_for(account)
    upload = SimpleUploadedFile("scene.jpg", _photo(), content_type="image/jpeg")
    params = {"compression_type": "balanced", "quality_target": 70}

    response = client.post("images", {"file": upload, "params": json.dumps(params)}, multipart=True)

    assert response.status_code == 201, response.content
    original = OriginalImage.objects.get(pk=response.json()["id"])
    assert original.quality_target == 70
    score = original.optimized_images.get().ssimulacra2
    assert score is not None and score >= 70


def test_a_sub_account_starts_with_its_parents_target(account: Account) -> None:
    from accounts.services import account_create, account_update

    account_update(account=account, quality_target=90)

    child = account_create(login="child-shop", parent=account)

    assert child.quality_target == 90
