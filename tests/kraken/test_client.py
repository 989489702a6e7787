"""The official `krakenio` client (PyPI), unchanged but for its base URL attributes, against a real gunicorn
and real Celery workers: every operation the issue lists."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import krakenio
import pytest
import pyvips
from pytest_httpserver import HTTPServer
from standardwebhooks import Webhook

from accounts.models import Account
from tests.compression.pipeline_support import jpeg, png
from tests.kraken.conftest import CUSTOMER_BUCKET
from tests.live_web import LiveWeb
from webhooks.models import CallbackUrl

FILES = Path(__file__).resolve().parent.parent / "files"
WAIT_LIMIT_SECONDS = 180  # generous: two shared cores, a cold worker start

pytestmark = pytest.mark.slow


def _client(web: LiveWeb, auth: dict[str, str]) -> krakenio.Client:
    client = krakenio.Client(auth["api_key"], auth["api_secret"])
    client.api_base_url = f"{web.url}/kraken/"
    client.api_v1_url = f"{web.url}/kraken/v1/"
    return client


def _download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.read()  # type: ignore[no-any-return]


def _fields(data: bytes) -> set[str]:
    return set(pyvips.Image.new_from_buffer(data, "").get_fields())


def test_official_client_optimizes_waiting(
    live_web: Callable[..., LiveWeb],
    live_worker: Callable[..., Any],
    account: Account,
    kraken_auth: Callable[[Account], dict[str, str]],
    httpserver: HTTPServer,
    tmp_path: Path,
    customer_s3: str,
) -> None:
    # given: a server, a worker for the synchronous jobs, a file on disk and one served over HTTP, a bucket
    client = _client(live_web(env={"AWS_ENDPOINT_URL_S3": customer_s3}), kraken_auth(account))
    live_worker(queues="sync")
    photo_path = tmp_path / "photo.jpg"
    photo_path.write_bytes(jpeg(800, 500))
    served = png(300, 200)
    httpserver.expect_request("/logo.png").respond_with_data(served, content_type="image/png")

    # when: upload and url with wait, resizes, lossy+quality, convert, preserve_meta, user_status
    uploaded = client.upload(str(photo_path), {"wait": True})
    fetched = client.url(httpserver.url_for("/logo.png"), {"wait": True})
    resized = client.upload(
        str(photo_path), {"wait": True, "resize": {"strategy": "landscape", "width": 400}}
    )
    several = client.upload(
        str(photo_path),
        {
            "wait": True,
            "resize": [
                {"id": "thumb", "strategy": "crop", "width": 100, "height": 100},
                {"id": "tall", "strategy": "portrait", "height": 250},
                {"id": "boxed", "strategy": "fill", "width": 300, "height": 300, "background": "#000000"},
            ],
        },
    )
    lossy = client.upload(
        str(photo_path),
        {"wait": True, "lossy": True, "quality": 60, "sampling_scheme": "4:2:0", "auto_orient": True},
    )
    s3 = {"key": "k", "secret": "s", "bucket": CUSTOMER_BUCKET, "region": "us-east-1", "path": "a/photo.jpg"}
    stored = client.upload(str(photo_path), {"wait": True, "s3_store": s3})
    converted = client.url(httpserver.url_for("/logo.png"), {"wait": True, "convert": {"format": "webp"}})
    kept = client.upload(
        str(FILES / "camera-photo-gps.jpg"), {"wait": True, "preserve_meta": ["geotag", "date"]}
    )
    stripped = client.upload(str(FILES / "camera-photo-gps.jpg"), {"wait": True})
    status = client.user_status()

    # then
    size = photo_path.stat().st_size
    assert uploaded["success"] is True and uploaded["original_size"] == size
    assert uploaded["kraked_size"] <= size and uploaded["saved_bytes"] == size - uploaded["kraked_size"]
    assert _download(uploaded["kraked_url"])[:3] == b"\xff\xd8\xff"
    assert fetched["original_size"] == len(served) and fetched["kraked_size"] <= len(served)
    assert (resized["kraked_width"], resized["kraked_height"]) == (400, 250)
    assert pyvips.Image.new_from_buffer(_download(resized["kraked_url"]), "").width == 400
    dimensions = {key: (r["kraked_width"], r["kraked_height"]) for key, r in several["results"].items()}
    assert dimensions == {"thumb": (100, 100), "tall": (400, 250), "boxed": (300, 300)}
    for result in several["results"].values():
        image = pyvips.Image.new_from_buffer(_download(result["kraked_url"]), "")
        assert (image.width, image.height) == (result["kraked_width"], result["kraked_height"])
    assert lossy["kraked_size"] < uploaded["kraked_size"]
    assert _download(converted["kraked_url"])[8:12] == b"WEBP"
    assert any("GPS" in field for field in _fields(_download(kept["kraked_url"])))
    assert not any("GPS" in field for field in _fields(_download(stripped["kraked_url"])))
    bucket = boto3.client(
        "s3",
        endpoint_url=customer_s3,
        region_name="us-east-1",
        aws_access_key_id="k",
        aws_secret_access_key="s",
    )
    assert (
        bucket.head_object(Bucket=CUSTOMER_BUCKET, Key="a/photo.jpg")["ContentLength"]
        == stored["kraked_size"]
    )
    assert stored["kraked_url"].endswith(f"/{CUSTOMER_BUCKET}/a/photo.jpg")
    assert status["success"] is True and status["active"] is True
    assert status["quota_used"] >= 4 * size


def test_official_client_results_reach_the_callback_url(
    live_web: Callable[..., LiveWeb],
    live_worker: Callable[..., Any],
    account: Account,
    kraken_auth: Callable[[Account], dict[str, str]],
    httpserver: HTTPServer,
    tmp_path: Path,
) -> None:
    # given: workers for compression, downloads and deliveries; a receiver and an image on loopback
    client = _client(live_web(), kraken_auth(account))
    worker = live_worker(queues="compression,fetch,webhooks")
    photo_path = tmp_path / "photo.jpg"
    photo_path.write_bytes(jpeg(400, 300))
    httpserver.expect_request("/photo.jpg").respond_with_data(jpeg(320, 240), content_type="image/jpeg")
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")

    # when
    by_upload = client.upload(str(photo_path), {"callback_url": httpserver.url_for("/hook"), "lossy": True})
    by_url = client.url(httpserver.url_for("/photo.jpg"), {"callback_url": httpserver.url_for("/hook")})
    deadline = time.monotonic() + WAIT_LIMIT_SECONDS
    while len([entry for entry in httpserver.log if entry[0].path == "/hook"]) < 2:
        assert time.monotonic() < deadline, worker.log()[-4000:]
        time.sleep(0.2)

    # then: each result arrives with its request's id, signed with its one-job receiver's secret
    posts = [entry[0] for entry in httpserver.log if entry[0].path == "/hook"]
    bodies = {json.loads(request.get_data())["id"]: request for request in posts}
    assert set(bodies) == {by_upload["id"], by_url["id"]}
    for request in posts:
        result = json.loads(request.get_data())
        assert result["success"] is True and result["kraked_size"] <= result["original_size"]
        secret = CallbackUrl.objects.get(image_id=int(result["id"], 16)).secret
        Webhook(secret).verify(request.get_data(), dict(request.headers))
        assert _download(result["kraked_url"])[:3] == b"\xff\xd8\xff"
