"""The real Crush.pics Node client (`@crush-pics/crush-pics` 0.2.2, installed by `npm ci` in
tests/clients/node, never modified) against a live server: gunicorn for the API and a Celery worker for the
asynchronous upload and the export.

It uploads with `form-data` streams, i.e. `Transfer-Encoding: chunked` and no Content-Length, and points at
this server through its own `baseUrl` option. The npm packages are installed by `make test` (and `.ci/run`)
when npm is on PATH; locally without Node the test is skipped, in CI (CI=true) it fails.
"""

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from accounts.models import Account
from tests.compression.pipeline_support import jpeg
from tests.live_web import LiveWeb

NODE_DIR = Path(__file__).parent / "node"
CLIENT_PACKAGE = NODE_DIR / "node_modules" / "@crush-pics" / "crush-pics" / "package.json"
RUN_TIMEOUT_SECONDS = 300

pytestmark = pytest.mark.slow


def _node() -> str:
    node = shutil.which("node")
    missing = (
        "node is not on PATH"
        if node is None
        else None
        if CLIENT_PACKAGE.is_file()
        else f"the npm packages are not installed (npm ci in {NODE_DIR})"
    )
    if missing is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI: {missing}")
        pytest.skip(f"{missing}; `make test` installs them when npm is present")
    assert node is not None
    return node


def _calls(output: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in output["calls"]}


def test_node_client_drives_the_api_unchanged(
    live_web: Callable[..., LiveWeb],
    live_worker: Callable[..., Any],
    account: Account,
    token: str,
    tmp_path: Path,
) -> None:
    node = _node()
    assert json.loads(CLIENT_PACKAGE.read_text())["version"] == "0.2.2"
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg(640, 400))
    web = live_web()
    live_worker(queues="compression,sync", concurrency=1)

    run = subprocess.run(
        [node, str(NODE_DIR / "drive.js")],
        cwd=NODE_DIR,
        env={
            **os.environ,
            "CRUSH_URL": web.url,
            "CRUSH_TOKEN": token,
            "CRUSH_PHOTO": str(photo),
            "CRUSH_CALLBACK_URL": "http://127.0.0.1:9/crush-hook",
        },
        capture_output=True,
        timeout=RUN_TIMEOUT_SECONDS,
    )

    assert run.returncode == 0, run.stdout.decode() + run.stderr.decode() + web.log()[-3000:]
    calls = _calls(json.loads(run.stdout.decode().strip().splitlines()[-1]))
    statuses = {name: entry["status"] for name, entry in calls.items()}
    assert statuses == {
        "account.get": 200,
        "account.update": 200,
        "callback_urls.create": 201,
        "callback_urls.list": 200,
        "callback_urls.delete": 204,
        "original_images.compress": 200,
        "original_images.create": 200,
        "original_images.get": 200,
        "original_images.list": 200,
        "dashboard.get": 200,
        "export.create": 200,
        "export.get": 200,
    }, calls

    assert calls["account.get"]["data"]["shop"]["login"] == account.login
    shop = calls["account.update"]["data"]["shop"]
    assert (shop["compression_level_jpg"], shop["compression_type"]) == (70, "lossy")

    callback_url = calls["callback_urls.create"]["data"]["callback_url"]
    assert callback_url["secret"].startswith("whsec_")
    listed_callback_urls = calls["callback_urls.list"]["data"]["callback_urls"]
    assert [entry["id"] for entry in listed_callback_urls] == [callback_url["id"]]

    compressed = calls["original_images.compress"]["data"]["original_image"]
    assert compressed["status"] == "completed"
    assert compressed["size"] == photo.stat().st_size  # the streamed file arrived whole
    assert compressed["compression_type"] == "lossy"
    assert compressed["compression_level"] == 75
    assert compressed["optimized_images"][0]["status"] == "completed"

    submitted = calls["original_images.create"]["data"]["original_image"]
    assert submitted["status"] == "enqueued"
    assert submitted["size"] == photo.stat().st_size
    fetched = calls["original_images.get"]["data"]["original_image"]
    assert fetched["id"] == submitted["id"]
    assert fetched["status"] == "completed"  # the worker compressed it

    listed = calls["original_images.list"]["data"]
    assert [row["id"] for row in listed["original_images"]] == [submitted["id"], compressed["id"]]
    assert listed["pagination"]["total_count"] == 2

    assert "stats" in calls["dashboard.get"]["data"]

    started = calls["export.create"]["data"]["export"]
    assert started["type"] == "optimized"
    exported = calls["export.get"]["data"]["export"]
    assert (exported["id"], exported["status"]) == (started["id"], "completed")
    assert exported["files"] == 2  # the original style of each of the two originals
    assert exported["link"].startswith(f"{web.url}/v1/files/")
