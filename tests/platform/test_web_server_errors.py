"""What gunicorn itself answers (a request it cannot parse, before Django sees it) is JSON too: API.md allows
no HTML error page on the API paths, whoever answers. A real gunicorn, started as `make run` starts it."""

import json
import socket
from collections.abc import Callable

import pytest

from tests.live_web import LiveWeb

pytestmark = pytest.mark.slow


def exchange(web: LiveWeb, raw: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", web.port), timeout=60) as client:
        client.sendall(raw)
        received = b""
        while data := client.recv(65536):
            received += data
    return received


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        pytest.param(b"get /v1/shop HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400, id="lowercase-method"),
        pytest.param(b"POST /v1/compress HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\n\r\n", 400, id="header-name"),
        pytest.param(
            b"POST /imagerecycle/v1/images HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Length: 3\r\n\r\nabc",
            400,
            id="chunked-and-length",
        ),
        pytest.param(
            b"POST /v1/compress HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: brotli, chunked\r\n\r\n",
            501,
            id="unknown-transfer-coding",
        ),
        pytest.param(b"GET /v1/" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, id="uri-too-long"),
    ],
)
def test_request_the_server_cannot_parse_is_answered_in_json(
    live_web: Callable[..., LiveWeb], raw: bytes, status: int
) -> None:
    web = live_web()

    answer = exchange(web, raw)

    head, _, content = answer.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status} ".encode()), answer[:300]
    assert b"Content-Type: application/json" in head
    body = json.loads(content)
    assert body["errCode"] == status  # the ImageRecycle keys …
    assert isinstance(body["errMessage"], str)
    assert body["message"] == body["formatted_message"]  # … and the /v1/ ones: the surface is not known yet
    assert web.process.poll() is None
