"""/v1/original_images (async submit, list, get, delete) and the /v1/images alias."""

from __future__ import annotations

import json
from typing import Any
from urllib.request import urlopen

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from compression.models import OriginalImage, StoredFile
from tests.compression.pipeline_support import decoded_size, jpeg

URL = "/v1/original_images"
STYLES = json.dumps([{"style": "thumb", "strategy": "fit", "width": 50, "height": 50}])


def _upload(width: int = 160, height: int = 120) -> Any:
    return SimpleUploadedFile("photo.jpg", jpeg(width, height), content_type="image/jpeg")


def _submit(api: Any, **fields: Any) -> dict[str, Any]:
    response = api.post(URL, {"file": _upload(), **fields}, format="multipart")
    assert response.status_code == 200, response.json()
    return response.json()["original_image"]


def _download(link: str) -> bytes:
    """The file behind a link (no credentials), following the presigned-URL redirect of S3 storage."""
    response: Any = APIClient().get(link)
    if response.status_code == 302:
        with urlopen(response["Location"], timeout=10) as presigned:
            return presigned.read()
    assert response.status_code == 200, link
    return b"".join(response.streaming_content)


def _other_api() -> APIClient:
    from accounts.services import api_token_create
    from tests.factories import AccountFactory

    client = APIClient()
    account: Any = AccountFactory.create()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_token_create(account=account).raw}")
    return client


def test_original_images_create_answers_enqueued_then_workers_complete_it(
    api: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = api.post(URL, {"file": _upload(), "resize": STYLES}, format="multipart")

        assert response.status_code == 200
        accepted = response.json()["original_image"]
        assert accepted["status"] == "enqueued"
        assert [row["status"] for row in accepted["optimized_images"]] == ["enqueued", "enqueued"]
        assert (accepted["width"], accepted["height"], accepted["origin"]) == (160, 120, "file")

    assert len(callbacks) == 1
    response = api.get(f"{URL}/{accepted['id']}")
    assert response.status_code == 200
    done = response.json()["original_image"]
    assert done["status"] == "completed"
    for row in done["optimized_images"]:
        assert row["status"] == "completed"
        data = _download(row["link"])
        assert decoded_size(data, "jpeg") == (row["width"], row["height"])
    assert max(done["optimized_images"][1]["width"], done["optimized_images"][1]["height"]) == 50


def test_original_images_create_with_image_url_downloads_in_the_worker(
    api: Any, httpserver: Any, django_capture_on_commit_callbacks: Any
) -> None:
    httpserver.expect_request("/a/b/shot.jpg").respond_with_data(jpeg(64, 48), content_type="image/jpeg")

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(URL, {"image_url": httpserver.url_for("/a/b/shot.jpg")}, format="json")

        accepted = response.json()["original_image"]
        assert (accepted["status"], accepted["size"], accepted["width"]) == ("enqueued", None, None)
        assert accepted["filename"] == "shot.jpg"

    done = api.get(f"{URL}/{accepted['id']}").json()["original_image"]
    assert (done["status"], done["width"], done["height"]) == ("completed", 64, 48)


def test_original_images_create_with_image_url_answering_404_ends_failed(
    api: Any, httpserver: Any, django_capture_on_commit_callbacks: Any
) -> None:
    httpserver.expect_request("/gone.jpg").respond_with_data(b"", status=404)

    with django_capture_on_commit_callbacks(execute=True):
        accepted = api.post(URL, {"image_url": httpserver.url_for("/gone.jpg")}, format="json").json()

    done = api.get(f"{URL}/{accepted['original_image']['id']}").json()["original_image"]
    assert done["status"] == "failed"
    assert done["error_msg"]


@pytest.mark.parametrize(
    ("change", "status"),
    [
        pytest.param({"plan_bytes": 10}, 402, id="quota"),
        pytest.param({"file_max_size": 100}, 413, id="file_max_size"),
    ],
)
def test_original_images_create_refuses_over_limits(
    api: Any, account: Any, change: dict[str, int], status: int
) -> None:
    for field, value in change.items():
        setattr(account, field, value)
    account.save()

    response = api.post(URL, {"file": _upload()}, format="multipart")

    assert response.status_code == status
    assert isinstance(response.json()["message"], str)
    assert not OriginalImage.objects.exists()


def test_original_images_create_unreadable_file_is_415(api: Any) -> None:
    upload = SimpleUploadedFile("fake.png", b"hello, not a png", content_type="image/png")

    response = api.post(URL, {"file": upload}, format="multipart")

    assert response.status_code == 415


def test_original_images_create_without_token_is_401(db: Any) -> None:
    response = APIClient().post(URL, {"file": _upload()}, format="multipart")

    assert response.status_code == 401


@pytest.mark.parametrize("path", ["/v1/original_images", "/v1/original_images/", "/v1/images", "/v1/images/"])
def test_original_images_list_newest_first_with_pagination(api: Any, path: str) -> None:
    ids = [_submit(api)["id"] for _ in range(3)]
    _submit(_other_api())

    first = api.get(path, {"per_page": 2})
    second = api.get(path, {"per_page": "2", "page": "2"})
    beyond = api.get(path, {"per_page": 2, "page": 5})

    assert first.status_code == second.status_code == beyond.status_code == 200
    assert [row["id"] for row in first.json()["original_images"]] == ids[::-1][:2]
    assert first.json()["pagination"] == {
        "current": 1,
        "per_page": 2,
        "count": 2,
        "total_pages": 2,
        "total_count": 3,
    }
    assert [row["id"] for row in second.json()["original_images"]] == ids[:1]
    assert second.json()["pagination"]["count"] == 1
    assert beyond.json()["original_images"] == []
    assert beyond.json()["pagination"]["current"] == 5
    first_row = first.json()["original_images"][0]
    assert [row["style"] for row in first_row["optimized_images"]] == ["original"]


def test_original_images_list_defaults_and_caps_per_page(api: Any) -> None:
    default = api.get(URL)
    capped = api.get(URL, {"per_page": 1000})

    assert default.json() == {
        "success": True,
        "original_images": [],
        "pagination": {"current": 1, "per_page": 25, "count": 0, "total_pages": 0, "total_count": 0},
    }
    assert capped.json()["pagination"]["per_page"] == 100


@pytest.mark.parametrize("params", [{"page": 0}, {"per_page": 0}, {"page": "x"}])
def test_original_images_list_bad_paging_is_422(api: Any, params: dict[str, Any]) -> None:
    response = api.get(URL, params)

    assert response.status_code == 422
    assert list(response.json()["message"]) == list(params)


def test_images_alias_is_read_only(api: Any) -> None:
    response = api.post("/v1/images", {"file": _upload()}, format="multipart")

    assert response.status_code == 405
    assert "message" in response.json()


@pytest.mark.parametrize("slash", ["", "/"])
def test_original_image_get_and_delete(api: Any, slash: str, django_capture_on_commit_callbacks: Any) -> None:
    accepted = _submit(api)
    path = f"{URL}/{accepted['id']}{slash}"
    link = accepted["link"]

    fetched = api.get(path, content_type="application/json")  # a JSON Content-Type on a GET is harmless
    with django_capture_on_commit_callbacks(execute=True):
        deleted = api.delete(path, content_type="application/json")

    assert fetched.status_code == 200
    assert fetched.json()["original_image"]["id"] == accepted["id"]
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert api.get(path).status_code == 404
    assert APIClient().get(link).status_code == 404
    assert not StoredFile.objects.exists()


def test_original_image_of_another_account_is_404(api: Any) -> None:
    theirs = _submit(_other_api())

    fetched = api.get(f"{URL}/{theirs['id']}")
    deleted = api.delete(f"{URL}/{theirs['id']}")

    assert fetched.status_code == deleted.status_code == 404
    assert fetched.json()["message"] == "Not found"
    assert OriginalImage.objects.filter(pk=theirs["id"]).exists()


@pytest.mark.parametrize("method", ["get", "delete"])
def test_original_image_unknown_id_is_404(api: Any, method: str) -> None:
    response = getattr(api, method)(f"{URL}/987654")

    assert response.status_code == 404
    assert response.json()["message"] == "Not found"


def test_original_image_without_token_is_401(db: Any) -> None:
    assert APIClient().get(f"{URL}/1").status_code == 401
    assert APIClient().get(URL).status_code == 401
