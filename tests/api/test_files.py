"""GET /v1/files/{token}/{filename}: public downloads by token, with caching headers, 404 after expiry."""

from __future__ import annotations

import datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from compression.models import StoredFile
from compression.services import expired_files_purge
from tests.compression.pipeline_support import jpeg, svg


@pytest.fixture(autouse=True)
def local_files(settings: Any, tmp_path: Any) -> None:
    """The streamed answer is what these tests check; the S3 redirect has its own test below."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
    }


def _compressed(api: Any, name: str = "café photo.jpg", data: bytes | None = None) -> dict[str, Any]:
    upload = SimpleUploadedFile(name, jpeg(120, 90) if data is None else data, content_type="image/jpeg")
    response = api.post("/v1/compress", {"file": upload}, format="multipart")
    assert response.status_code == 200, response.json()
    return response.json()["original_image"]


def _path(link: str) -> str:
    return urlsplit(link).path


def test_file_download_headers_and_body(api: Any) -> None:
    original = _compressed(api)
    optimized = original["optimized_images"][0]

    response: Any = APIClient().get(_path(optimized["link"]), HTTP_ACCEPT="image/webp")

    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert len(body) == optimized["size"] == int(response["Content-Length"])
    assert response["Content-Type"] == "image/jpeg"
    stored = StoredFile.objects.get(token=_path(optimized["link"]).split("/")[3])
    assert response["ETag"] == f'"{stored.sha256}"'
    assert response["Cache-Control"].startswith("public, max-age=")
    assert 0 < int(response["Cache-Control"].rsplit("=", 1)[1]) <= 86400
    assert response["Content-Disposition"].startswith("inline;")
    assert "filename*=utf-8''caf%C3%A9%20photo.jpg" in response["Content-Disposition"]
    assert "sandbox" in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"


def test_file_link_is_absolute_with_the_quoted_filename(api: Any) -> None:
    original = _compressed(api)

    assert original["link"].startswith("http://testserver/v1/files/")
    assert original["link"].endswith("/caf%C3%A9%20photo.jpg")
    assert len(original["link"].split("/")[-2]) >= 22  # ≥ 128 bits of URL-safe base64


def test_file_download_if_none_match_is_304(api: Any) -> None:
    link = _path(_compressed(api)["link"])
    etag = APIClient().get(link)["ETag"]

    matching = APIClient().get(link, HTTP_IF_NONE_MATCH=f'W/"other", {etag}')
    stale = APIClient().get(link, HTTP_IF_NONE_MATCH='"something-else"')

    assert matching.status_code == 304
    assert matching["ETag"] == etag
    assert stale.status_code == 200


@pytest.mark.parametrize("suffix", ["", "/"])
def test_file_download_ignores_the_filename_and_trailing_slash(api: Any, suffix: str) -> None:
    token = _path(_compressed(api)["link"]).split("/")[3]

    response = APIClient().get(f"/v1/files/{token}/any-name.bin{suffix}")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"


def test_file_download_head(api: Any) -> None:
    link = _path(_compressed(api)["link"])

    response = APIClient().head(link)

    assert response.status_code == 200
    assert response["ETag"]


def test_file_download_unknown_token_is_404_json(db: Any) -> None:
    response = APIClient().get("/v1/files/NoSuchTokenNoSuchToken00/photo.jpg")

    assert response.status_code == 404
    assert response.json()["message"] == "Not found"


def test_file_download_past_expiry_is_404(api: Any) -> None:
    link = _path(_compressed(api)["link"])
    StoredFile.objects.update(expire_at=timezone.now() - datetime.timedelta(seconds=1))

    assert APIClient().get(link).status_code == 404


def test_file_download_after_purge_is_404(api: Any) -> None:
    original = _compressed(api)
    StoredFile.objects.update(expire_at=timezone.now() - datetime.timedelta(days=1))

    purged = expired_files_purge()
    StoredFile.objects.update(expire_at=timezone.now() + datetime.timedelta(days=1))

    assert purged == 2
    assert APIClient().get(_path(original["link"])).status_code == 404
    assert APIClient().get(_path(original["optimized_images"][0]["link"])).status_code == 404


def test_file_download_of_an_svg_forbids_scripts(api: Any) -> None:
    upload = SimpleUploadedFile("drawing.svg", svg(), content_type="image/svg+xml")
    original = api.post("/v1/compress", {"file": upload}, format="multipart").json()["original_image"]

    response = APIClient().get(_path(original["link"]))

    assert response["Content-Type"] == "image/svg+xml"
    assert "default-src 'none'" in response["Content-Security-Policy"]


def test_file_download_redirects_to_a_presigned_url_with_s3(api: Any, monkeypatch: Any) -> None:
    link = _path(_compressed(api)["link"])
    calls: list[dict[str, str]] = []

    def presigned(**kwargs: str) -> str:
        calls.append(kwargs)
        return "https://bucket.example/key?X-Amz-Signature=abc"

    monkeypatch.setattr("compression.api.files.file_download_url", presigned)

    response = APIClient().get(link)

    assert response.status_code == 302
    assert response["Location"] == "https://bucket.example/key?X-Amz-Signature=abc"
    assert response["Cache-Control"] == "private, no-store"
    assert calls[0]["content_type"] == "image/jpeg"
    assert calls[0]["filename"] == "café photo.jpg"
