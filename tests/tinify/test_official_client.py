"""The official `tinify` Python client, unchanged, against a real gunicorn and real sync workers: only its
endpoint (`tinify.Client.API_ENDPOINT`) and key are set, as docs/tinify.md tells users to."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pyvips
import tinify
from pytest_httpserver import HTTPServer

from tests.compression.pipeline_support import jpeg, png
from tests.live_web import LiveWeb

FILES = Path(__file__).parent.parent / "files"


@pytest.fixture
def endpoint(live_web: Callable[..., LiveWeb], monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    web = live_web()
    url = web.url + "/tinify"
    monkeypatch.setattr(tinify.Client, "API_ENDPOINT", url)
    monkeypatch.setattr(tinify, "compression_count", None)
    yield url
    tinify.key = None  # also drops the client built for the key


def decoded(data: bytes) -> pyvips.Image:
    return pyvips.Image.new_from_buffer(data, "")


@pytest.mark.slow
def test_validate_tells_a_good_key_from_a_bad_one(endpoint: str, token: str) -> None:
    tinify.key = token
    assert tinify.validate() is True
    assert tinify.compression_count == 0

    tinify.key = "not-a-key"
    with pytest.raises(tinify.AccountError) as refused:
        tinify.validate()
    assert refused.value.status == 401 and refused.value.kind == "Unauthorized"


@pytest.mark.slow
def test_the_client_compresses_and_transforms_through_a_real_server(
    endpoint: str,
    token: str,
    live_worker: Callable[..., Any],
    httpserver: HTTPServer,
    tmp_path: Path,
) -> None:
    # given: a sync worker, an image served over HTTP, the key set
    live_worker(queues="sync")
    photo = jpeg(400, 240)
    httpserver.expect_request("/photo.jpg").respond_with_data(photo, content_type="image/jpeg")
    tinify.key = token
    image = png(300, 200)

    # when / then: from a buffer
    source = tinify.from_buffer(image)
    shrunk = source.to_buffer()
    assert shrunk[:8] == b"\x89PNG\r\n\x1a\n" and len(shrunk) < len(image)
    assert tinify.compression_count == 1

    # from a file, written to a file
    result_path = tmp_path / "out.jpg"
    tinify.from_file(str(FILES / "camera-photo-gps.jpg")).to_file(str(result_path))
    assert result_path.read_bytes()[:3] == b"\xff\xd8\xff"

    # from a URL; the result's metadata
    result = tinify.from_url(httpserver.url_for("/photo.jpg")).result()
    assert (result.width, result.height) == (400, 240)
    assert result.size == len(result.to_buffer()) and result.media_type == "image/jpeg"

    # resize, each method
    for method, size, expected in [
        ("scale", {"width": 150}, (150, 100)),
        ("fit", {"width": 100, "height": 100}, (100, 67)),
        ("cover", {"width": 80, "height": 80}, (80, 80)),
        ("thumb", {"width": 50, "height": 50}, (50, 50)),
    ]:
        resized = source.resize(method=method, **size).result()  # type: ignore[arg-type]
        assert (resized.width, resized.height) == expected, method
        assert (decoded(resized.to_buffer()).width, decoded(resized.to_buffer()).height) == expected

    # preserve, convert, transform
    preserved = tinify.from_file(str(FILES / "camera-photo-gps.jpg")).preserve("copyright", "creation")
    assert preserved.to_buffer()[:3] == b"\xff\xd8\xff"
    converted = source.convert(type=["image/webp", "image/png"]).result()
    assert converted.media_type in ("image/webp", "image/png")
    assert converted.size is not None and converted.size <= len(shrunk)
    flattened = source.convert(type="image/jpeg").transform(background="white").result()
    assert flattened.media_type == "image/jpeg" and flattened.extension == "jpeg"

    # the count followed every answer
    assert tinify.compression_count is not None and tinify.compression_count >= 12


@pytest.mark.slow
def test_the_client_raises_client_error_for_a_file_that_is_no_image(endpoint: str, token: str) -> None:
    tinify.key = token

    with pytest.raises(tinify.ClientError) as refused:
        tinify.from_buffer(b"plain text, not an image").to_buffer()

    assert refused.value.status == 415
