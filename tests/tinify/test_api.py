"""/tinify/ over raw HTTP (Django's test client): statuses, headers and error bodies Tinify's clients read."""

from __future__ import annotations

import base64
import contextlib
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
import pyvips
from django.test import override_settings
from moto.server import ThreadedMotoServer
from rest_framework.test import APIClient

from accounts.models import Account
from compression.services import store
from tests.compression.pipeline_support import jpeg, png
from tests.factories import AccountFactory

FILES = Path(__file__).parent.parent / "files"
TINIFY_HOST = "api.tinify.com"


def basic(key: str, user: str = "api") -> str:
    return "Basic " + base64.b64encode(f"{user}:{key}".encode()).decode()


@pytest.fixture
def tinify(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic(token))
    return client


def shrink(
    client: APIClient, data: bytes, content_type: str = "application/octet-stream", **extra: Any
) -> Any:
    return client.generic("POST", "/tinify/shrink", data, content_type=content_type, **extra)  # type: ignore[arg-type]


def content(response: Any) -> bytes:
    """The bytes of a streamed (file) answer."""
    return b"".join(response.streaming_content)


def decoded(data: bytes) -> pyvips.Image:
    return pyvips.Image.new_from_buffer(data, "")


@pytest.mark.django_db
def test_shrink_answers_201_with_location_body_and_count(tinify: APIClient) -> None:
    # given
    image = png(200, 120)

    # when
    response = shrink(tinify, image, content_type="")

    # then
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["input"] == {"size": len(image), "type": "image/png"}
    assert body["output"]["type"] == "image/png"
    assert (body["output"]["width"], body["output"]["height"]) == (200, 120)
    assert body["output"]["size"] < len(image)
    assert body["output"]["ratio"] == round(body["output"]["size"] / len(image), 4)
    assert response["Location"].startswith("/output/")
    assert body["output"]["url"] == "http://testserver/tinify" + response["Location"]
    assert response["Compression-Count"] == "1"


@pytest.mark.django_db
def test_shrink_over_https_answers_an_absolute_https_location(tinify: APIClient) -> None:
    response = shrink(tinify, jpeg(), secure=True)

    assert response.status_code == 201, response.content
    assert response["Location"].startswith("https://testserver/tinify/output/")


@pytest.mark.django_db
def test_output_get_answers_the_image_with_exact_headers(tinify: APIClient) -> None:
    # given
    location = shrink(tinify, (FILES / "camera-photo-gps.jpg").read_bytes())["Location"]

    # when
    response = tinify.get("/tinify" + location, HTTP_ACCEPT="image/*")

    # then
    assert response.status_code == 200
    data = content(response)
    assert int(response["Content-Length"]) == len(data)
    assert response["Content-Type"] == "image/jpeg"
    image = decoded(data)
    assert (int(response["Image-Width"]), int(response["Image-Height"])) == (image.width, image.height)
    assert response["Compression-Count"] == "1"


@pytest.mark.django_db
def test_empty_body_with_a_good_key_is_400_input_missing(tinify: APIClient) -> None:
    response = shrink(tinify, b"", content_type="")

    assert response.status_code == 400
    assert response.json()["error"] == "Input missing"
    assert response["Compression-Count"] == "0"


@pytest.mark.django_db
@pytest.mark.parametrize("authorization", [basic("not-a-key"), basic(""), "Bearer x", "Basic !!!", None])
def test_a_bad_key_is_401_unauthorized(authorization: str | None) -> None:
    client = APIClient()
    if authorization is not None:
        client.credentials(HTTP_AUTHORIZATION=authorization)

    response = shrink(client, b"")

    assert response.status_code == 401
    assert response.json()["error"] == "Unauthorized"
    assert response.json()["message"]


@pytest.mark.django_db
def test_an_unknown_path_is_a_404_in_tinify_shape(tinify: APIClient) -> None:
    response = tinify.get("/tinify/nothing-here")

    assert response.status_code == 404
    assert response.json()["error"] == "Not found"


@pytest.mark.django_db
def test_the_monthly_limit_is_429_with_the_count() -> None:
    # given: an account whose allowance is smaller than the image
    account = AccountFactory.create(plan_bytes=10)
    from accounts.services import api_token_create

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic(api_token_create(account=account).raw))

    # when
    response = shrink(client, jpeg())

    # then
    assert response.status_code == 429
    assert response.json()["error"] == "Too many requests"
    assert response["Compression-Count"] == "0"


@pytest.mark.django_db
def test_a_file_that_is_no_image_is_415(tinify: APIClient) -> None:
    response = shrink(tinify, b"this is plain text, not an image")

    assert response.status_code == 415
    assert response.json()["error"] == "Unsupported media type"
    assert "Compression-Count" in response


@pytest.mark.django_db
def test_a_source_url_refused_by_the_guard_is_400(tinify: APIClient) -> None:
    body = json.dumps({"source": {"url": "http://169.254.169.254/latest/meta-data"}}).encode()

    with override_settings(CRUSH_ALLOW_PRIVATE_URLS=False):
        response = shrink(tinify, body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"] == "Bad request"


@pytest.mark.django_db
def test_another_accounts_output_is_404(tinify: APIClient, account: Account) -> None:
    # given
    location = shrink(tinify, jpeg())["Location"]
    from accounts.services import api_token_create

    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=basic(api_token_create(account=AccountFactory.create()).raw))

    # when
    response = other.get("/tinify" + location)

    # then
    assert response.status_code == 404
    assert response.json()["error"] == "Not found"
    assert response["Compression-Count"] == "0"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "size", "expected"),
    [
        ("scale", {"width": 100}, (100, 60)),
        ("scale", {"height": 30}, (50, 30)),
        ("fit", {"width": 50, "height": 50}, (50, 30)),
        ("cover", {"width": 50, "height": 50}, (50, 50)),
        ("thumb", {"width": 40, "height": 40}, (40, 40)),
    ],
)
def test_output_post_resizes_by_method(
    tinify: APIClient, method: str, size: dict[str, int], expected: tuple[int, int]
) -> None:
    # given
    location = shrink(tinify, jpeg(200, 120))["Location"]

    # when
    response = tinify.post("/tinify" + location, {"resize": {"method": method, **size}}, format="json")

    # then
    assert response.status_code == 200, response.content
    image = decoded(content(response))
    assert (image.width, image.height) == expected
    assert (int(response["Image-Width"]), int(response["Image-Height"])) == expected
    assert response["Compression-Count"] == "3"  # the shrink, then the full-size and the resized output


@pytest.mark.django_db
def test_output_post_converts_and_flattens_on_a_background(tinify: APIClient) -> None:
    # given: a PNG with transparency
    rgba = pyvips.Image.black(60, 40).bandjoin([0, 0, 0]).copy(interpretation="srgb").cast("uchar")
    location = shrink(tinify, rgba.pngsave_buffer())["Location"]

    # when
    response = tinify.post(
        "/tinify" + location,
        {"convert": {"type": "image/jpeg"}, "transform": {"background": "white"}},
        format="json",
    )

    # then
    assert response.status_code == 200, response.content
    data = content(response)
    assert response["Content-Type"] == "image/jpeg" and data[:3] == b"\xff\xd8\xff"
    assert decoded(data).getpoint(30, 20)[0] > 250  # transparent became white


@pytest.mark.django_db
def test_output_post_converts_to_the_smallest_of_a_list(tinify: APIClient) -> None:
    location = shrink(tinify, png(160, 100))["Location"]

    response = tinify.post(
        "/tinify" + location, {"convert": {"type": ["image/webp", "image/png"]}}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response["Content-Type"] in ("image/webp", "image/png")
    assert response["Compression-Count"] == "2"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "command",
    [
        {"resize": {"method": "scale", "width": 10, "height": 10}},
        {"resize": {"method": "stretch", "width": 10, "height": 10}},
        {"convert": {"type": "image/bmp"}},
        {"preserve": ["everything"]},
        {"store": {"service": "gcs", "path": "b/k"}},
    ],
)
def test_output_post_refuses_bad_commands_with_400(tinify: APIClient, command: dict[str, Any]) -> None:
    location = shrink(tinify, jpeg())["Location"]

    response = tinify.post("/tinify" + location, command, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["error"] == "Bad request"
    assert response["Compression-Count"] == "1"


@pytest.mark.django_db
def test_output_post_preserve_keeps_the_location_asked(tinify: APIClient) -> None:
    # given: a photo with GPS tags
    location = shrink(tinify, (FILES / "camera-photo-gps.jpg").read_bytes())["Location"]

    # when
    kept = tinify.post("/tinify" + location, {"preserve": ["location", "creation"]}, format="json")
    plain = tinify.get("/tinify" + location)

    # then
    assert kept.status_code == 200, kept.content
    kept_image = decoded(content(kept))
    plain_image = decoded(content(plain))
    assert any("gps" in name.lower() for name in kept_image.get_fields())
    assert not any("gps" in name.lower() for name in plain_image.get_fields())


@pytest.fixture
def customer_s3(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The customer's S3 (which would leave the machine) as moto's server on loopback."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    real_client = boto3.client
    monkeypatch.setattr(
        store.boto3, "client", lambda *args, **kwargs: real_client(*args, **kwargs, endpoint_url=endpoint)
    )
    client = real_client(
        "s3", endpoint_url=endpoint, region_name="eu-west-1", aws_access_key_id="k", aws_secret_access_key="s"
    )
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):  # moto's state outlives a server
        client.create_bucket(Bucket="customer", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    yield client
    server.stop()


@pytest.mark.django_db
def test_output_post_store_uploads_to_the_customers_s3(tinify: APIClient, customer_s3: Any) -> None:
    # given
    location = shrink(tinify, jpeg(200, 120))["Location"]
    command = {
        "resize": {"method": "fit", "width": 100, "height": 100},
        "store": {
            "service": "s3",
            "aws_access_key_id": "k",
            "aws_secret_access_key": "s",
            "region": "eu-west-1",
            "path": "customer/images/photo.jpg",
            "headers": {"Cache-Control": "max-age=60"},
        },
    }

    # when
    response = tinify.post("/tinify" + location, command, format="json")

    # then
    assert response.status_code == 200, response.content
    assert response["Location"] == "https://s3.eu-west-1.amazonaws.com/customer/images/photo.jpg"
    assert (response["Image-Width"], response["Image-Height"]) == ("100", "60")
    stored = customer_s3.get_object(Bucket="customer", Key="images/photo.jpg")
    assert stored["ContentType"] == "image/jpeg" and stored["CacheControl"] == "max-age=60"
    assert decoded(stored["Body"].read()).width == 100


@pytest.mark.django_db
def test_output_post_store_refused_by_the_bucket_is_400(tinify: APIClient, customer_s3: Any) -> None:
    location = shrink(tinify, jpeg())["Location"]
    command = {
        "store": {
            "service": "s3",
            "aws_access_key_id": "k",
            "aws_secret_access_key": "s",
            "path": "nobucket/x.jpg",
        }
    }

    response = tinify.post("/tinify" + location, command, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "store_failed"


@pytest.mark.django_db
def test_the_tinify_host_answers_at_the_root(token: str) -> None:
    with override_settings(
        CRUSH_SURFACE_HOSTS={TINIFY_HOST: "tinify"}, ALLOWED_HOSTS=["testserver", TINIFY_HOST]
    ):
        client = APIClient(HTTP_HOST=TINIFY_HOST)
        client.credentials(HTTP_AUTHORIZATION=basic(token))

        shrunk = shrink(client, jpeg(), secure=True)
        output = client.get(shrunk["Location"].removeprefix(f"https://{TINIFY_HOST}"), secure=True)

    assert shrunk.status_code == 201
    assert shrunk["Location"].startswith(f"https://{TINIFY_HOST}/tinify/output/")
    assert output.status_code == 200 and output["Content-Type"] == "image/jpeg"


@pytest.fixture
def customer_gcs(httpserver: Any, settings: Any) -> Any:
    """Google Cloud Storage's JSON API stood in for by a loopback server (CRUSH_GCS_ENDPOINT)."""
    settings.CRUSH_GCS_ENDPOINT = httpserver.url_for("/")
    return httpserver


@pytest.mark.django_db
def test_output_post_store_uploads_to_the_customers_gcs(tinify: APIClient, customer_gcs: Any) -> None:
    # given: the bucket's upload endpoint accepting the object
    customer_gcs.expect_request(
        "/upload/storage/v1/b/customer/o", method="POST", query_string="uploadType=multipart"
    ).respond_with_json({"name": "images/photo.jpg"})
    location = shrink(tinify, jpeg(200, 120))["Location"]
    command = {
        "resize": {"method": "fit", "width": 100, "height": 100},
        "store": {
            "service": "gcs",
            "gcp_access_token": "ya29.token",
            "path": "customer/images/photo.jpg",
            "headers": {"Cache-Control": "max-age=60"},
        },
    }

    # when
    response = tinify.post("/tinify" + location, command, format="json")

    # then: the object's URL, and the upload carried the token, the metadata and the resized image
    assert response.status_code == 200, response.content
    assert response["Location"] == "https://storage.googleapis.com/customer/images/photo.jpg"
    ((upload, _answer),) = customer_gcs.log
    assert upload.headers["Authorization"] == "Bearer ya29.token"
    boundary = upload.headers["Content-Type"].split("boundary=")[1]
    metadata_part, media_part = upload.get_data().split(f"--{boundary}".encode())[1:3]
    metadata = json.loads(metadata_part.split(b"\r\n\r\n", 1)[1])
    assert metadata == {"name": "images/photo.jpg", "contentType": "image/jpeg", "cacheControl": "max-age=60"}
    image = media_part.split(b"\r\n\r\n", 1)[1].removesuffix(b"\r\n")
    assert decoded(image).width == 100


@pytest.mark.django_db
def test_output_post_store_refused_by_gcs_is_400(tinify: APIClient, customer_gcs: Any) -> None:
    customer_gcs.expect_request("/upload/storage/v1/b/customer/o").respond_with_data("denied", status=403)
    location = shrink(tinify, jpeg())["Location"]
    command = {"store": {"service": "gcs", "gcp_access_token": "expired", "path": "customer/x.jpg"}}

    response = tinify.post("/tinify" + location, command, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "store_failed"
