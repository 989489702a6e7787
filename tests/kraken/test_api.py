"""Raw HTTP against /kraken/: each answer's status and Kraken's body, through DRF's test client (Celery eager:
a synchronous job runs inline)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
import pyvips
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from rest_framework.test import APIClient

from accounts.models import Account
from compression.models import OriginalImage
from tests.compression.pipeline_support import jpeg, png
from tests.kraken.conftest import CUSTOMER_BUCKET
from webhooks.models import CallbackUrl, WebhookEvent

pytestmark = pytest.mark.django_db


def _upload(client: APIClient, options: dict[str, Any], data: bytes, field: str = "file") -> Any:
    return client.post(
        "/kraken/v1/upload",
        {field: SimpleUploadedFile("photo.jpg", data, "image/jpeg"), "data": json.dumps(options)},
        format="multipart",
    )


def _json(client: APIClient, path: str, body: Any) -> Any:
    return client.post(path, json.dumps(body), content_type="application/json")


def test_upload_wait_answers_kraken_result(account: Account, kraken_auth) -> None:
    # given
    photo = jpeg(640, 400)

    # when
    response = _upload(APIClient(), {"auth": kraken_auth(account), "wait": True, "lossy": True}, photo)

    # then
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["success"] is True
    assert body["original_size"] == len(photo)
    assert body["kraked_size"] <= len(photo)
    assert body["saved_bytes"] == body["original_size"] - body["kraked_size"]
    assert (body["original_width"], body["original_height"]) == (640, 400)
    assert (body["kraked_width"], body["kraked_height"]) == (640, 400)
    assert "/kraken/files/" in body["kraked_url"]
    download = APIClient().get(body["kraked_url"].split("testserver", 1)[1])
    assert download.status_code == 200
    assert download.getvalue()[:3] == b"\xff\xd8\xff"


def test_upload_takes_the_file_in_any_field(account: Account, kraken_auth) -> None:
    response = _upload(APIClient(), {"auth": kraken_auth(account), "wait": True}, png(64, 64), field="upload")

    assert response.status_code == 200, response.content
    assert response.json()["success"] is True


def test_resize_array_answers_one_result_per_id(account: Account, kraken_auth) -> None:
    # given
    resize = [
        {"id": "small", "strategy": "exact", "width": 100, "height": 50},
        {"id": "tall", "strategy": "portrait", "height": 100},
        {"id": "wide", "strategy": "landscape", "width": 160},
        {"id": "sq", "strategy": "square", "size": 64},
        {"id": "pad", "strategy": "fill", "width": 200, "height": 200, "background": "#ff0000"},
    ]

    # when
    response = _upload(
        APIClient(), {"auth": kraken_auth(account), "wait": True, "resize": resize}, jpeg(640, 400)
    )

    # then
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    dimensions = {key: (value["kraked_width"], value["kraked_height"]) for key, value in results.items()}
    assert dimensions == {
        "small": (100, 50),
        "tall": (160, 100),
        "wide": (160, 100),
        "sq": (64, 64),
        "pad": (200, 200),
    }


def test_user_status_reports_the_shared_quota(account: Account, kraken_auth) -> None:
    # given: one image compressed through the Kraken surface
    auth = kraken_auth(account)
    photo = jpeg(320, 200)
    _upload(APIClient(), {"auth": auth, "wait": True}, photo)

    # when
    response = _json(APIClient(), "/kraken/user_status", {"auth": auth})

    # then
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["success"] is True and body["active"] is True
    assert body["plan_name"] == account.plan_name
    assert body["quota_used"] == len(photo)
    if body["quota_total"] is not None:
        assert body["quota_remaining"] == body["quota_total"] - len(photo)


def test_callback_url_answers_an_id_and_registers_a_one_job_receiver(
    account: Account, kraken_auth, django_capture_on_commit_callbacks
) -> None:
    # given
    options = {"auth": kraken_auth(account), "callback_url": "http://127.0.0.1:9/hook"}

    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(APIClient(), options, jpeg(64, 48))

    # then: the id, a receiver for this image only (not one of the account's), an event with the result
    assert response.status_code == 200, response.content
    original = OriginalImage.objects.get()
    assert response.json() == {"id": f"{original.id:032x}"}
    assert CallbackUrl.objects.get().image_id == original.id
    event = WebhookEvent.objects.get()
    body = json.loads(event.body)
    assert body["id"] == response.json()["id"] and body["success"] is True and "kraked_url" in body


def test_s3_store_puts_each_output_in_the_customer_bucket(account: Account, kraken_auth, customer_s3) -> None:
    # given
    s3 = {
        "key": "k",
        "secret": "s",
        "bucket": CUSTOMER_BUCKET,
        "region": "us-east-1",
        "path": "shop/photo.jpg",
    }
    resize = [{"id": "thumb", "strategy": "square", "size": 50, "storage_path": "shop/thumb.jpg"}]
    auth = kraken_auth(account)

    # when
    single = _upload(APIClient(), {"auth": auth, "wait": True, "s3_store": s3}, jpeg(200, 100))
    several = _upload(
        APIClient(), {"auth": auth, "wait": True, "s3_store": s3, "resize": resize}, jpeg(200, 100)
    )

    # then: the objects are there, and kraked_url names them
    bucket = boto3.client(
        "s3",
        endpoint_url=customer_s3,
        region_name="us-east-1",
        aws_access_key_id="k",
        aws_secret_access_key="s",
    )
    assert single.status_code == 200, single.content
    assert single.json()["kraked_url"].endswith(f"/{CUSTOMER_BUCKET}/shop/photo.jpg")
    assert several.json()["results"]["thumb"]["kraked_url"].endswith("/shop/thumb.jpg")
    photo = bucket.get_object(Bucket=CUSTOMER_BUCKET, Key="shop/photo.jpg")["Body"].read()
    assert photo[:3] == b"\xff\xd8\xff" and len(photo) == single.json()["kraked_size"]
    thumb = bucket.get_object(Bucket=CUSTOMER_BUCKET, Key="shop/thumb.jpg")["Body"].read()
    assert pyvips.Image.new_from_buffer(thumb, "").width == 50


def test_s3_store_refused_by_the_bucket_is_an_error(account: Account, kraken_auth, customer_s3) -> None:
    s3 = {"key": "k", "secret": "s", "bucket": "no-such-bucket", "path": "a.jpg"}

    response = _upload(APIClient(), {"auth": kraken_auth(account), "wait": True, "s3_store": s3}, jpeg())

    assert response.status_code == 400 and response.json()["success"] is False


def test_dev_mode_spends_no_quota(account: Account, kraken_auth) -> None:
    response = _upload(APIClient(), {"auth": kraken_auth(account), "wait": True, "dev": True}, jpeg(64, 48))

    assert response.status_code == 200
    assert response.json()["dev"] is True and response.json()["kraked_url"].endswith(
        "/kraken/dev/placeholder.png"
    )
    assert not OriginalImage.objects.exists()
    assert APIClient().get("/kraken/dev/placeholder.png").status_code == 200


# --- errors: {"success": false, "message"} with Kraken's statuses


def _error(response: Any, status: int) -> str:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["success"] is False and isinstance(body["message"], str) and body["message"]
    return str(body["message"])


def test_bad_json_is_400() -> None:
    _error(APIClient().post("/kraken/v1/url", "{not json", content_type="application/json"), 400)


def test_bad_json_in_the_data_field_is_400() -> None:
    response = APIClient().post(
        "/kraken/v1/upload",
        {"file": SimpleUploadedFile("a.jpg", jpeg()), "data": "{nope"},
        format="multipart",
    )
    _error(response, 400)


@pytest.mark.parametrize("auth", [None, {"api_key": "nope", "api_secret": "nope"}, "text"])
def test_bad_credentials_are_401(auth: Any) -> None:
    body = {"url": "http://example.com/a.jpg", "wait": True} | ({"auth": auth} if auth is not None else {})
    _error(_json(APIClient(), "/kraken/v1/url", body), 401)
    _error(_json(APIClient(), "/kraken/user_status", body), 401)


def test_allowance_used_up_is_402(account: Account, kraken_auth) -> None:
    account.plan_bytes = 10
    account.save()

    message = _error(_upload(APIClient(), {"auth": kraken_auth(account), "wait": True}, jpeg()), 402)

    assert message


def test_disabled_account_is_403(account: Account, kraken_auth) -> None:
    auth = kraken_auth(account)
    account.is_active = False
    account.save()

    _error(_upload(APIClient(), {"auth": auth, "wait": True}, jpeg()), 403)


def test_too_large_is_413(account: Account, kraken_auth) -> None:
    account.file_max_size = 100
    account.save()

    _error(_upload(APIClient(), {"auth": kraken_auth(account), "wait": True}, jpeg(200, 200)), 413)


def test_unsupported_is_415(account: Account, kraken_auth) -> None:
    _error(
        _upload(APIClient(), {"auth": kraken_auth(account), "wait": True}, b"plain text, no image" * 10), 415
    )


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"resize": {"strategy": "stretch", "width": 10}}, "Invalid resize strategy"),
        ({"resize": {"strategy": "portrait"}}, "height"),
        ({"resize": [{"strategy": "fit", "width": 10, "height": 10}]}, "id"),
        ({"quality": 101, "lossy": True}, "quality"),
        ({"convert": {"format": "bmp"}}, "format"),
        ({"preserve_meta": ["soul"]}, "preserve_meta"),
        ({"sampling_scheme": "4:1:1"}, "sampling_scheme"),
        ({"wait": False}, "callback_url"),
    ],
)
def test_bad_parameters_are_422(account: Account, kraken_auth, options: dict[str, Any], words: str) -> None:
    message = _error(
        _upload(APIClient(), {"auth": kraken_auth(account), "wait": True, **options}, jpeg()), 422
    )

    assert words in message


def test_too_many_requests_is_429(account: Account, kraken_auth, settings) -> None:
    settings.CRUSH_RATE_LIMIT = "1/minute"
    auth = kraken_auth(account)
    _json(APIClient(), "/kraken/user_status", {"auth": auth})

    response = _json(APIClient(), "/kraken/user_status", {"auth": auth})

    _error(response, 429)
    assert response["Retry-After"]


@override_settings(
    CRUSH_SURFACE_HOSTS={"api.kraken.io": "kraken"}, ALLOWED_HOSTS=["testserver", "api.kraken.io"]
)
def test_the_kraken_host_answers_at_the_root(account: Account, kraken_auth) -> None:
    response = _json(APIClient(HTTP_HOST="api.kraken.io"), "/user_status", {"auth": kraken_auth(account)})

    assert response.status_code == 200, response.content
    assert response.json()["success"] is True
