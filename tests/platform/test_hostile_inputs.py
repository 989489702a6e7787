"""Hostile input on every parser of both surfaces answers a 4xx in the surface's shape, never a 500 (#13).

Each case here was a 500 before: JSON nested past Python's recursion limit (RecursionError) on every
JSON-reading path, an integer past the database column, a form index past Python's int() digit limit.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from accounts.models import Account
from tests.compression.pipeline_support import gif_animated, jpeg
from tests.imagerecycle.conftest import BASE, ImageRecycleClient, client_for

pytestmark = pytest.mark.django_db

DEEP = 100_000  # far past the interpreter's recursion limit
DEEP_ARRAY = "[" * DEEP + "]" * DEEP
DEEP_OBJECT = '{"a":' * DEEP + "1" + "}" * DEEP
NESTED_40 = "[" * 40 + "]" * 40  # parses, but past the API's nesting limit


@pytest.fixture
def ir(account: Account) -> ImageRecycleClient:
    return client_for(account)


def assert_crush_4xx(response: Any) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    body = response.json()
    assert "message" in body
    assert isinstance(body["formatted_message"], str)


def assert_imagerecycle_400(response: Any) -> None:
    assert response.status_code == 400, (response.status_code, response.content[:300])
    body = response.json()
    assert body["errCode"] == 400
    assert isinstance(body["errMessage"], str)


def _json_post(api: APIClient, method: str, path: str, body: str) -> Any:
    return api.generic(method, path, body, content_type="application/json")


@pytest.mark.parametrize("body", [DEEP_ARRAY, DEEP_OBJECT, NESTED_40])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/compress"),
        ("POST", "/v1/original_images"),
        ("PATCH", "/v1/shop"),
        ("POST", "/v1/callback_urls"),
    ],
)
def test_crush_json_body_nested_too_deep_answers_400(
    api: APIClient, method: str, path: str, body: str
) -> None:
    response = _json_post(api, method, path, body)

    assert response.status_code == 400
    assert_crush_4xx(response)


@pytest.mark.parametrize("value", [DEEP_ARRAY, DEEP_OBJECT, NESTED_40])
@pytest.mark.parametrize("path", ["/v1/compress", "/v1/original_images"])
def test_crush_resize_form_field_nested_too_deep_answers_422(api: APIClient, path: str, value: str) -> None:
    response = api.post(path, {"image_url": "https://example.com/a.jpg", "resize": value}, format="multipart")

    assert response.status_code == 422
    assert_crush_4xx(response)


def test_crush_resize_json_string_nested_too_deep_answers_422(api: APIClient) -> None:
    body = json.dumps({"image_url": "https://example.com/a.jpg", "resize": DEEP_ARRAY})

    response = _json_post(api, "POST", "/v1/compress", body)

    assert response.status_code == 422
    assert_crush_4xx(response)


@pytest.mark.parametrize("body", [DEEP_ARRAY, DEEP_OBJECT, NESTED_40])
@pytest.mark.parametrize("path", ["images", "accounts/sub"])
def test_imagerecycle_json_body_nested_too_deep_answers_400(
    ir: ImageRecycleClient, path: str, body: str
) -> None:
    response = APIClient().post(
        f"{BASE}{path}?{urlencode({'auth': ir.auth})}", body, content_type="application/json"
    )

    assert_imagerecycle_400(response)


@pytest.mark.parametrize("value", [DEEP_ARRAY, DEEP_OBJECT, NESTED_40])
def test_imagerecycle_params_nested_too_deep_answers_400(ir: ImageRecycleClient, value: str) -> None:
    response = ir.post("images", {"url": "https://example.com/a.jpg", "params": value})

    assert_imagerecycle_400(response)


@pytest.mark.parametrize("value", [DEEP_ARRAY, DEEP_OBJECT, NESTED_40])
def test_imagerecycle_auth_nested_too_deep_answers_400(account: Account, value: str) -> None:
    response = APIClient().get(BASE + "accounts/mine", {"auth": value})

    assert_imagerecycle_400(response)


@pytest.mark.parametrize("name", ["quota", "monthly_quota"])
@pytest.mark.parametrize("value", [2**63, 10**30])
def test_imagerecycle_sub_account_quota_past_bigint_answers_400(
    ir: ImageRecycleClient, name: str, value: int
) -> None:
    response = ir.post("accounts/sub", {"title": "big", name: str(value)})

    assert_imagerecycle_400(response)
    assert name in response.json()["errMessage"]


def test_imagerecycle_sub_account_quota_at_bigint_max_is_saved(ir: ImageRecycleClient) -> None:
    response = ir.post("accounts/sub", {"title": "max", "quota": str(2**63 - 1)})

    assert response.status_code == 201


def test_imagerecycle_sub_account_update_quota_past_bigint_answers_400(ir: ImageRecycleClient) -> None:
    sub = ir.post("accounts/sub", {"title": "s"}).json()

    response = ir.put(f"accounts/sub/{sub['id']}", quota=str(2**63))

    assert_imagerecycle_400(response)


def test_imagerecycle_images_offset_past_bigint_answers_400(ir: ImageRecycleClient) -> None:
    response = ir.get("images", offset=str(2**63))

    assert_imagerecycle_400(response)


@pytest.mark.parametrize("name", ["width", "height"])
def test_crush_resize_dimension_past_the_column_answers_422(api: APIClient, name: str) -> None:
    body = {"image_url": "https://example.com/a.jpg", "resize": [{"style": "big", name: 2**31}]}

    response = api.post("/v1/original_images", body, format="json")

    assert response.status_code == 422
    assert name in json.dumps(response.json()["message"])


def test_crush_page_past_the_column_answers_422(api: APIClient) -> None:
    response = api.get("/v1/original_images", {"page": str(2**63)})

    assert response.status_code == 422
    assert_crush_4xx(response)


@pytest.mark.parametrize("path", ["/v1/compress", "/v1/original_images"])
def test_crush_resize_form_index_of_5000_digits_answers_422(api: APIClient, path: str) -> None:
    index = "9" * 5000
    body = urlencode({"image_url": "https://example.com/a.jpg", f"resize[{index}][style]": "x"})

    response = api.generic("POST", path, body, content_type="application/x-www-form-urlencoded")

    assert response.status_code == 422
    assert_crush_4xx(response)
    assert "resize" in response.json()["message"]


def _limit_upload_crush(api: APIClient, path: str, data: bytes) -> Any:
    return api.post(path, {"file": SimpleUploadedFile("in.bin", data)}, format="multipart")


@pytest.mark.parametrize("path", ["/v1/compress", "/v1/original_images"])
@pytest.mark.parametrize(
    ("setting", "value", "data"),
    [("CRUSH_MAX_PIXELS", 100, jpeg()), ("CRUSH_MAX_FRAMES", 2, gif_animated(frames=3))],
)
def test_crush_upload_past_a_pixel_or_frame_limit_answers_413(
    api: APIClient, settings: Any, path: str, setting: str, value: int, data: bytes
) -> None:
    setattr(settings, setting, value)

    response = _limit_upload_crush(api, path, data)

    assert response.status_code == 413, response.json()
    assert_crush_4xx(response)


@pytest.mark.parametrize(
    ("setting", "value", "data"),
    [("CRUSH_MAX_PIXELS", 100, jpeg()), ("CRUSH_MAX_FRAMES", 2, gif_animated(frames=3))],
)
def test_imagerecycle_upload_past_a_pixel_or_frame_limit_answers_413(
    ir: ImageRecycleClient, settings: Any, setting: str, value: int, data: bytes
) -> None:
    setattr(settings, setting, value)

    response = ir.post("images", {"file": SimpleUploadedFile("in.bin", data)}, multipart=True)

    assert response.status_code == 413, response.json()
    assert response.json()["errCode"] == 413


@pytest.mark.parametrize("ids", ["\u00b2", "\u0661\u0662", "1,\uff13", "9" * 30])
def test_imagerecycle_zip_ids_are_ascii_digits_only(ir: ImageRecycleClient, ids: str) -> None:
    response = ir.get(f"images/zip/optimized/{ids}")

    assert_imagerecycle_400(response)


def test_crush_compress_image_url_refused_says_refused_not_time_out(api: APIClient) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    response = api.post("/v1/compress", {"image_url": f"http://127.0.0.1:{port}/a.jpg"}, format="json")

    assert 400 <= response.status_code < 600 and response.status_code != 500
    assert "refused the connection" in json.dumps(response.json()["message"])


def _multipart_with_filename(name: bytes, data: bytes, extra: bytes = b"") -> bytes:
    return (
        b"--hostile\r\n"
        + extra
        + b'Content-Disposition: form-data; name="file"; filename="'
        + name
        + b'"\r\nContent-Type: image/jpeg\r\n\r\n'
        + data
        + b"\r\n--hostile--\r\n"
    )


@pytest.mark.parametrize("path", ["/v1/compress", "/v1/original_images"])
def test_crush_multipart_filename_not_utf8_is_accepted_and_sanitised(api: APIClient, path: str) -> None:
    body = _multipart_with_filename(b"../caf\xe9 \xff.jpg", jpeg())

    # DRF's stubs type generic()'s data as str; it hands it to Django's generic(), which takes bytes
    response = api.generic(
        "POST",
        path,
        body,  # type: ignore[arg-type]
        content_type="multipart/form-data; boundary=hostile",
    )

    assert response.status_code in (200, 201), response.content[:300]
    filename = response.json()["original_image"]["filename"]
    assert filename.startswith("caf") and filename.endswith(".jpg") and "/" not in filename


def test_imagerecycle_multipart_filename_not_utf8_is_accepted(ir: ImageRecycleClient) -> None:
    body = _multipart_with_filename(b"caf\xe9.jpg", jpeg())

    response = APIClient().generic(
        "POST",
        f"{BASE}images?{urlencode({'auth': ir.auth})}",
        body,  # type: ignore[arg-type]  # DRF's stubs: data is str; Django's generic() takes bytes
        content_type="multipart/form-data; boundary=hostile",
    )

    assert response.status_code == 201, response.content[:300]


def test_multipart_utf8_filename_and_file_bytes_pass_unchanged(api: APIClient) -> None:
    data = jpeg()

    response = api.generic(
        "POST",
        "/v1/original_images",
        _multipart_with_filename("photo-é.jpg".encode(), data),  # type: ignore[arg-type]  # DRF's stubs: str
        content_type="multipart/form-data; boundary=hostile",
    )

    assert response.status_code in (200, 201), response.content[:300]
    original = response.json()["original_image"]
    assert original["filename"] == "photo-é.jpg"
    assert original["size"] == len(data)


@pytest.mark.parametrize("read_size", [1, 7, 1000, 70_000, -1])
def test_part_headers_stream_keeps_content_bytes_and_reencodes_only_headers(read_size: int) -> None:
    import io
    import random

    from crush.api.multipart import PartHeadersUtf8Stream

    content = bytes(random.Random(5).randrange(256) for _ in range(150_000))  # crosses several reads
    body = _multipart_with_filename(b"caf\xe9.jpg", content)
    stream = PartHeadersUtf8Stream(io.BytesIO(body), "hostile")

    chunks = []
    while chunk := stream.read(read_size):
        chunks.append(chunk)
        if read_size < 0:
            break

    assert b"".join(chunks) == body.replace(b"caf\xe9.jpg", "café.jpg".encode())


@pytest.mark.parametrize("quota_bytes", [2**63, -(2**63) - 1])
def test_sub_account_services_check_quota_against_the_bigint_column(
    account: Account, quota_bytes: int
) -> None:
    from accounts import services
    from crush.lib.errors import ValidationFailed

    sub_account, _ = services.sub_account_create(parent=account, title="ok")

    with pytest.raises(ValidationFailed) as on_create:
        services.sub_account_create(parent=account, quota_bytes=quota_bytes)
    with pytest.raises(ValidationFailed) as on_update:
        services.sub_account_update(sub_account=sub_account, quota_bytes=quota_bytes)

    assert "plan_bytes" in on_create.value.message
    assert "plan_bytes" in on_update.value.message
    assert Account.objects.filter(parent=account).count() == 1


def test_account_create_checks_file_max_size_against_the_bigint_column(db: None) -> None:
    from accounts import services
    from crush.lib.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as caught:
        services.account_create(login="huge", file_max_size=2**64)

    assert "file_max_size" in caught.value.message
