"""POST /v1/compress: synchronous compression through the HTTP API."""

from __future__ import annotations

import json
from typing import Any
from urllib.request import urlopen

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from tests.compression.pipeline_support import SAMPLES, decoded_size, jpeg, png

URL = "/v1/compress"
TWO_STYLES = [
    {"style": "thumb", "strategy": "fit", "width": 40, "height": 40},
    {"style": "square", "strategy": "square", "width": 24},
]


def _upload(name: str = "photo.jpg", data: bytes | None = None, content_type: str = "image/jpeg") -> Any:
    return SimpleUploadedFile(name, jpeg() if data is None else data, content_type=content_type)


def _download(link: str) -> bytes:
    """The file behind a link (no credentials), following the presigned-URL redirect of S3 storage."""
    response: Any = APIClient().get(link)
    if response.status_code == 302:
        with urlopen(response["Location"], timeout=10) as presigned:
            return presigned.read()
    assert response.status_code == 200, link
    return b"".join(response.streaming_content)


API_KINDS = list(SAMPLES)


@pytest.mark.parametrize("kind", API_KINDS)
def test_compress_returns_every_style_ended_and_links_decode_to_reported_size(api: Any, kind: str) -> None:
    filename, mime, make = SAMPLES[kind]
    source = make()

    response = api.post(
        URL,
        {"file": _upload(filename, source, mime), "resize": json.dumps(TWO_STYLES)},
        format="multipart",
    )

    assert response.status_code == 200, response.json()
    original = response.json()["original_image"]
    assert original["status"] == "completed"
    assert (original["file_type"], original["filename"], original["size"]) == (mime, filename, len(source))
    assert original["link"].startswith("http://testserver/v1/files/")
    assert _download(original["link"]) == source
    rows = original["optimized_images"]
    assert [row["style"] for row in rows] == ["original", "thumb", "square"]
    for row in rows:
        assert row["status"] == "completed", row
        data = _download(row["link"])
        assert len(data) == row["size"] <= len(source)
        assert row["saved_bytes"] == len(source) - row["size"]
        if kind != "svg":
            assert decoded_size(data, kind) == (row["width"], row["height"])
    if kind not in ("svg", "pdf"):
        assert (rows[0]["width"], rows[0]["height"]) == (original["width"], original["height"])
        assert max(rows[1]["width"], rows[1]["height"]) == 40
        assert (rows[2]["width"], rows[2]["height"]) == (24, 24)


def test_compress_from_image_url(api: Any, httpserver: Any) -> None:
    source = png(90, 60)
    httpserver.expect_request("/pics/logo.png").respond_with_data(source, content_type="image/png")

    response = api.post(
        URL,
        {"image_url": httpserver.url_for("/pics/logo.png"), "compression_type": "lossless"},
        format="json",
    )

    assert response.status_code == 200, response.json()
    original = response.json()["original_image"]
    assert (original["status"], original["origin"], original["filename"]) == ("completed", "url", "logo.png")
    assert (original["width"], original["height"], original["size"]) == (90, 60, len(source))
    main = original["optimized_images"][0]
    assert main["compression_type"] == "lossless"
    assert decoded_size(_download(main["link"]), "png") == (90, 60)


def test_compress_image_url_answering_404_is_422(api: Any, httpserver: Any) -> None:
    httpserver.expect_request("/missing.jpg").respond_with_data(b"nope", status=404)

    response = api.post(URL, {"image_url": httpserver.url_for("/missing.jpg")}, format="json")

    assert response.status_code == 422
    assert list(response.json()["message"]) == ["image_url"]


@pytest.mark.parametrize("path", ["/v1/compress", "/v1/compress/"])
def test_compress_answers_with_and_without_trailing_slash(api: Any, path: str) -> None:
    response = api.post(path, {"file": _upload()}, format="multipart")

    assert response.status_code == 200
    assert response.json()["original_image"]["status"] == "completed"


@pytest.mark.parametrize("header", [None, "Bearer not-a-token"])
def test_compress_without_a_valid_token_is_401(db: Any, header: str | None) -> None:
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)

    response = client.post(URL, {"file": _upload()}, format="multipart")

    assert response.status_code == 401
    assert isinstance(response.json()["message"], str)


def test_compress_with_quota_used_up_is_402_as_crush_pics_plugins_expect(api: Any, account: Any) -> None:
    account.plan_bytes = 100
    account.save(update_fields=["plan_bytes"])

    response = api.post(URL, {"file": _upload()}, format="multipart")

    assert response.status_code == 402
    body = response.json()
    assert body["success"] is False and body["code"] == "quota_exceeded"
    assert "allowance" in body["message"] and "allowance" in body["formatted_message"]


def test_compress_over_file_max_size_is_413(api: Any, account: Any) -> None:
    account.file_max_size = 1000
    account.save(update_fields=["file_max_size"])

    response = api.post(URL, {"file": _upload(data=jpeg(400, 300))}, format="multipart")

    assert response.status_code == 413
    assert isinstance(response.json()["message"], str)


def test_compress_declared_body_far_over_file_max_size_is_413_before_reading(api: Any, account: Any) -> None:
    account.file_max_size = 1000
    account.save(update_fields=["file_max_size"])

    response = api.post(URL, b"x" * (2 * 2**20), content_type="application/octet-stream")

    assert response.status_code == 413


@pytest.mark.parametrize(
    ("name", "data"),
    [
        pytest.param("notes.png", b"just some text, not an image\n", id="text-named-png"),
        pytest.param("empty.jpg", b"", id="zero-bytes"),
        pytest.param("cut.jpg", jpeg(200, 150)[:300], id="truncated-jpeg"),
    ],
)
def test_compress_unreadable_input_is_415(api: Any, name: str, data: bytes) -> None:
    response = api.post(URL, {"file": _upload(name, data, "image/png")}, format="multipart")

    assert response.status_code == 415, response.json()
    assert isinstance(response.json()["message"], str)


def test_compress_validation_error_is_422_by_field(api: Any) -> None:
    response = api.post(URL, {"file": _upload(), "compression_level": "0"}, format="multipart")

    assert response.status_code == 422
    assert list(response.json()["message"]) == ["compression_level"]


@pytest.mark.parametrize("kind", API_KINDS)
def test_compress_with_a_tiny_sync_search_budget_answers_completed_with_valid_outputs(
    api: Any, settings: Any, kind: str
) -> None:
    settings.CRUSH_SYNC_SEARCH_SECONDS = 0.001
    filename, mime, make = SAMPLES[kind]
    source = make()

    response = api.post(
        URL,
        {
            "file": _upload(filename, source, mime),
            "resize": json.dumps(TWO_STYLES),
            "compression_type": "balanced",
        },
        format="multipart",
    )

    assert response.status_code == 200, response.json()
    original = response.json()["original_image"]
    assert original["status"] == "completed"
    for row in original["optimized_images"]:
        assert row["status"] == "completed", row
        data = _download(row["link"])
        assert len(data) == row["size"] <= len(source)
        assert row["ssimulacra2"] is None or row["ssimulacra2"] >= 80
        if kind != "svg":
            assert decoded_size(data, kind) == (row["width"], row["height"])
