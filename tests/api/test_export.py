"""/v1/export: a zip of the account's optimized (or original) files, built by the worker task, downloaded by
its link; the requests the Crush.pics Node client (`export.create`, `export.get`) builds."""

from __future__ import annotations

import datetime
import io
import json
import zipfile
from typing import Any
from urllib.request import urlopen

from django.utils import timezone
from rest_framework.test import APIClient

from compression.models import Export, Status, StoredFile
from compression.services import expired_files_purge
from compression.services.export import EXPORT_LEASE_SECONDS
from compression.storage import StorageUnavailable
from crush.celery import app as celery_app
from tests.compression.pipeline_support import jpeg, png, upload

URL = "/v1/export"
THUMB = [{"style": "thumb", "strategy": "fit", "width": 40, "height": 40}]
NODE_CLIENT_HEADERS = {  # what @crush-pics/crush-pics 0.2.2 sends on every call (config/server/config.js)
    "HTTP_ACCEPT": "application/json",
    "HTTP_CLIENT_VERSION": "Crushpics-NodeJs-Client v0.2.2",
    "HTTP_LANG_VERSION": "v20.0.0",
    "HTTP_OS_VERSION": "linux x64 6.1.0",
}


def _compressed(api: Any, name: str, data: bytes, mime: str, resize: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"file": upload(name, data, mime)}
    if resize is not None:
        body["resize"] = json.dumps(resize)
    response = api.post("/v1/compress", body, format="multipart")
    assert response.status_code == 200, response.json()
    return response.json()["original_image"]


def _account_with_images(api: Any) -> list[dict[str, Any]]:
    return [
        _compressed(api, "photo.jpg", jpeg(160, 120), "image/jpeg", resize=THUMB),
        _compressed(api, "photo.png", png(90, 60), "image/png"),
    ]


def _started(api: Any, capture: Any, body: Any = None) -> dict[str, Any]:
    """POST /v1/export, then its task run (eager) once the request's transaction commits."""
    with capture(execute=True):
        response = api.post(URL, body, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["success"] is True
    return response.json()["export"]


def _latest(api: Any) -> dict[str, Any] | None:
    response = api.get(URL)
    assert response.status_code == 200, response.json()
    assert response.json()["success"] is True
    return response.json()["export"]


def _download(link: str) -> bytes:
    """The file behind a link (no credentials), following the presigned-URL redirect of S3 storage."""
    response: Any = APIClient().get(link)
    if response.status_code == 302:
        with urlopen(response["Location"], timeout=10) as presigned:
            return presigned.read()
    assert response.status_code == 200, link
    return b"".join(response.streaming_content)


def _entries(link: str) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(_download(link))) as archive:
        assert archive.testzip() is None
        return {entry.filename: archive.read(entry) for entry in archive.infolist()}


def _other_api() -> APIClient:
    from accounts.services import api_token_create
    from tests.factories import AccountFactory

    client = APIClient()
    account: Any = AccountFactory.create()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_token_create(account=account).raw}")
    return client


def test_export_zips_exactly_the_optimized_downloads(
    api: Any, django_capture_on_commit_callbacks: Any
) -> None:
    jpg, png_ = _account_with_images(api)

    accepted = _started(api, django_capture_on_commit_callbacks)

    assert (accepted["type"], accepted["status"], accepted["link"]) == ("optimized", "enqueued", None)
    done = _latest(api)
    assert done is not None
    assert (done["id"], done["status"], done["files"]) == (accepted["id"], "completed", 3)
    assert done["error_msg"] is None
    assert done["link"].startswith("http://testserver/v1/files/")
    expected = {
        f"{jpg['id']}/photo.jpg": _download(jpg["optimized_images"][0]["link"]),
        f"{jpg['id']}/thumb/photo.jpg": _download(jpg["optimized_images"][1]["link"]),
        f"{png_['id']}/photo.png": _download(png_["optimized_images"][0]["link"]),
    }
    assert _entries(done["link"]) == expected
    assert done["size"] == len(_download(done["link"]))


def test_export_zip_stores_its_entries_uncompressed(
    api: Any, django_capture_on_commit_callbacks: Any
) -> None:
    _account_with_images(api)

    _started(api, django_capture_on_commit_callbacks)

    done = _latest(api)
    assert done is not None
    with zipfile.ZipFile(io.BytesIO(_download(done["link"]))) as archive:
        assert {entry.compress_type for entry in archive.infolist()} == {zipfile.ZIP_STORED}


def test_export_of_type_original_zips_the_uploads(api: Any, django_capture_on_commit_callbacks: Any) -> None:
    jpg, png_ = _account_with_images(api)

    accepted = _started(api, django_capture_on_commit_callbacks, {"type": "original"})

    assert accepted["type"] == "original"
    done = _latest(api)
    assert done is not None
    assert (done["status"], done["files"]) == ("completed", 2)
    assert _entries(done["link"]) == {
        f"{jpg['id']}/photo.jpg": jpeg(160, 120),
        f"{png_['id']}/photo.png": png(90, 60),
    }


def test_export_of_an_empty_account_is_a_valid_empty_zip(
    api: Any, django_capture_on_commit_callbacks: Any
) -> None:
    _started(api, django_capture_on_commit_callbacks)

    done = _latest(api)

    assert done is not None
    assert (done["status"], done["files"]) == ("completed", 0)
    assert _entries(done["link"]) == {}


def test_export_get_before_any_export_answers_null(api: Any) -> None:
    assert _latest(api) is None


def test_export_of_another_account_is_not_seen(api: Any, django_capture_on_commit_callbacks: Any) -> None:
    _account_with_images(api)
    mine = _started(api, django_capture_on_commit_callbacks)
    other = _other_api()

    before = _latest(other)
    theirs = _started(other, django_capture_on_commit_callbacks)

    assert before is None
    assert theirs["id"] != mine["id"]
    done = _latest(other)
    assert done is not None
    assert (done["id"], done["files"]) == (theirs["id"], 0)
    assert _entries(done["link"]) == {}


def test_export_post_while_one_runs_answers_the_running_one(
    api: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as enqueued:
        first = api.post(URL, format="json")
        second = api.post(URL, {"type": "original"}, format="json")

    assert first.status_code == second.status_code == 200
    assert second.json()["export"] == first.json()["export"]
    assert len(enqueued) == 1
    assert Export.objects.count() == 1


def test_export_lost_while_running_is_failed_and_replaced(
    api: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False):
        lost = api.post(URL, format="json").json()["export"]
    long_ago = timezone.now() - datetime.timedelta(seconds=EXPORT_LEASE_SECONDS + 1)
    Export.objects.filter(pk=lost["id"]).update(status=Status.PROCESSING, updated_at=long_ago)

    replacement = _started(api, django_capture_on_commit_callbacks)

    assert replacement["id"] != lost["id"]
    assert Export.objects.get(pk=lost["id"]).error_code == "interrupted"
    done = _latest(api)
    assert done is not None
    assert (done["id"], done["status"]) == (replacement["id"], "completed")


def test_export_after_the_last_one_ended_starts_another(
    api: Any, django_capture_on_commit_callbacks: Any
) -> None:
    first = _started(api, django_capture_on_commit_callbacks)
    _compressed(api, "photo.jpg", jpeg(), "image/jpeg")

    second = _started(api, django_capture_on_commit_callbacks)

    assert second["id"] != first["id"]
    done = _latest(api)
    assert done is not None
    assert (done["id"], done["files"]) == (second["id"], 1)


def test_export_rejects_an_unknown_type_with_422(api: Any) -> None:
    response = api.post(URL, {"type": "thumbnails"}, format="json")

    assert response.status_code == 422
    body = response.json()
    assert (body["success"], body["code"]) == (False, "invalid")
    assert list(body["message"]) == ["type"]
    assert body["formatted_message"].startswith("type: ")
    assert Export.objects.count() == 0


def test_export_needs_the_bearer_token() -> None:
    for response in (APIClient().get(URL), APIClient().post(URL, format="json")):
        assert response.status_code == 401
        assert response.json()["code"] == "unauthenticated"


def test_export_expires_with_the_retention(
    api: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.CRUSH_RETENTION_DAYS = 7
    _started(api, django_capture_on_commit_callbacks)
    done = _latest(api)
    assert done is not None
    export = Export.objects.select_related("file").get(pk=done["id"])
    assert export.file is not None
    retention = export.expire_at - export.created_at
    assert abs(retention - datetime.timedelta(days=7)) < datetime.timedelta(seconds=5)
    assert export.file.expire_at == export.expire_at

    StoredFile.objects.filter(pk=export.file.pk).update(expire_at=timezone.now())
    expired_files_purge()

    assert APIClient().get(done["link"]).status_code == 404
    after = _latest(api)
    assert after is not None
    assert (after["status"], after["link"]) == ("completed", None)


def test_export_failing_storage_is_retried_then_failed(
    api: Any, monkeypatch: Any, django_capture_on_commit_callbacks: Any
) -> None:
    attempts = []

    def unavailable(**kwargs: Any) -> str:
        attempts.append(kwargs["key"])
        raise StorageUnavailable()

    monkeypatch.setattr("compression.services.export.file_put_stream", unavailable)
    celery_app.conf.task_eager_propagates = False  # the retries run inline, as a worker would run them
    try:
        _started(api, django_capture_on_commit_callbacks)
    finally:
        celery_app.conf.task_eager_propagates = True

    done = _latest(api)
    assert done is not None
    assert (done["status"], done["link"]) == ("failed", None)
    assert done["error_msg"] == StorageUnavailable.default_message
    assert len(attempts) == 6  # the first run and its 5 retries


def test_export_answers_the_node_clients_requests(api: Any, django_capture_on_commit_callbacks: Any) -> None:
    """`export.create()` POSTs no body with `Content-Type: application/json`, `export.create({type})` a JSON
    body; `export.get()` GETs with that Content-Type too. The client reads only the JSON answer."""
    _account_with_images(api)

    with django_capture_on_commit_callbacks(execute=True):
        created = api.generic("POST", URL, b"", content_type="application/json", **NODE_CLIENT_HEADERS)
    fetched = api.generic("GET", URL, content_type="application/json", **NODE_CLIENT_HEADERS)
    with django_capture_on_commit_callbacks(execute=True):
        originals = api.generic(
            "POST",
            URL,
            json.dumps({"type": "original"}),
            content_type="application/json",
            **NODE_CLIENT_HEADERS,
        )

    assert (created.status_code, fetched.status_code, originals.status_code) == (200, 200, 200)
    assert created["Content-Type"] == fetched["Content-Type"] == "application/json"
    assert created.json()["export"]["type"] == "optimized"
    assert fetched.json()["export"]["status"] == "completed"
    assert originals.json()["export"]["type"] == "original"
    assert originals.json()["export"]["id"] != created.json()["export"]["id"]
