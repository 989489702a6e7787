"""Surfaces by host name (CRUSH_SURFACE_HOSTS): a listed host gets its surface at the root path, as the
replaced service answered at its own host (ImageRecycle's WordPress plugin always posts to
`https://api.imagerecycle.com/v1/images`); other hosts keep the usual prefixes."""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from rest_framework.test import APIClient
from urllib3.filepost import encode_multipart_formdata

from accounts import services
from accounts.models import Account
from crush.api.surfaces.hosts import mounted_path
from crush.settings import _surface_hosts
from tests.compression.pipeline_support import jpeg
from tests.live_web import LiveWeb

RECYCLE_HOST = "api.imagerecycle.com"
CRUSH_HOST = "images.example.com"
HOSTS = {RECYCLE_HOST: "imagerecycle", CRUSH_HOST: "crushpics"}
by_host = override_settings(
    CRUSH_SURFACE_HOSTS=HOSTS, ALLOWED_HOSTS=["testserver", RECYCLE_HOST, CRUSH_HOST, "other.example.com"]
)


def imagerecycle_auth(account: Account) -> str:
    issued = services.api_key_create(account=account)
    return json.dumps({"key": issued.api_key.key, "secret": issued.secret})


@by_host
@pytest.mark.parametrize(
    ("host", "path", "routed"),
    [
        (RECYCLE_HOST, "/v1/images", "/imagerecycle/v1/images"),
        ("API.ImageRecycle.com:443", "/v1/accounts/mine", "/imagerecycle/v1/accounts/mine"),
        (RECYCLE_HOST, "/imagerecycle/v1/images", "/imagerecycle/v1/images"),  # its own download links
        (RECYCLE_HOST, "/health/live", "/health/live"),
        (RECYCLE_HOST, "/admin/", "/admin/"),
        (CRUSH_HOST, "/v1/compress", "/v1/compress"),  # Crush.pics' paths are Crush's own
        ("other.example.com", "/v1/images", "/v1/images"),
    ],
)
def test_the_path_is_routed_by_host(host: str, path: str, routed: str) -> None:
    assert mounted_path(host, path) == routed


@pytest.mark.parametrize("value", ["api.imagerecycle.com=tinypng", "=crush", "api.example.com"])
def test_a_wrong_setting_stops_start_up_naming_the_variable(value: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="CRUSH_SURFACE_HOSTS"):
        _surface_hosts(value)


def test_the_setting_reads_hosts_and_surface_names() -> None:
    assert _surface_hosts(" api.imagerecycle.com = imagerecycle , Images.Example.com.=crush,") == HOSTS


@by_host
@pytest.mark.django_db
def test_the_imagerecycle_host_answers_at_the_root_in_its_shape(account: Account) -> None:
    client = APIClient(HTTP_HOST=RECYCLE_HOST)
    auth = imagerecycle_auth(account)

    mine = client.get("/v1/accounts/mine", {"auth": auth})
    refused = client.get("/v1/accounts/mine", {"auth": json.dumps({"key": "no", "secret": "no"})})
    elsewhere = APIClient(HTTP_HOST="other.example.com").get("/v1/accounts/mine", {"auth": auth})

    assert mine.status_code == 200, mine.content
    assert set(mine.json()) >= {"quota_current", "quota_allowed", "file_max_size"}
    assert refused.status_code == 401 and refused.json()["errCode"] == 401
    assert elsewhere.status_code in (401, 404) and "errCode" not in elsewhere.json()  # Crush.pics' shape


@pytest.mark.slow
def test_the_wordpress_plugin_upload_to_its_hard_coded_host_through_a_real_server(
    live_web: Callable[..., LiveWeb], live_worker: Callable[..., Any], account: Account
) -> None:
    # given: a server that lists the plugin's host, and a worker for the job the upload waits for
    web = live_web(env={"CRUSH_SURFACE_HOSTS": f"{RECYCLE_HOST}=imagerecycle"})
    live_worker(queues="sync")
    photo = jpeg(640, 400)
    body, content_type = encode_multipart_formdata(
        {
            "auth": imagerecycle_auth(account),
            "params": json.dumps({"compression_type": "lossy", "resize": {"width": 320}}),
            "file": ("photo.jpg", photo, "image/jpeg"),
        }
    )

    # when: the request the plugin builds, sent where api.imagerecycle.com resolves (here: this server)
    status, image = _request(web, "POST", "/v1/images", body, {"Content-Type": content_type})
    download_status, optimized = _request(web, "GET", image["optimized_url"].split(RECYCLE_HOST, 1)[1])

    # then: the ImageRecycle answer, its links on the plugin's host, and the bounded file behind them
    assert status == 201, image
    assert image["size_before"] == len(photo)
    assert image["optimized_url"].startswith(f"http://{RECYCLE_HOST}/imagerecycle/v1/")
    assert download_status == 200
    assert optimized[:3] == b"\xff\xd8\xff" and len(optimized) == image["size_after"]


def _request(
    web: LiveWeb, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", web.port, timeout=120)
    try:
        connection.request(method, path, body=body, headers={"Host": RECYCLE_HOST, **(headers or {})})
        response = connection.getresponse()
        data = response.read()
        is_json = response.getheader("Content-Type", "").startswith("application/json")
        return response.status, json.loads(data) if is_json else data
    finally:
        connection.close()
