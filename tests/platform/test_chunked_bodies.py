"""Chunked request bodies (`Transfer-Encoding: chunked`, no Content-Length) on both surfaces (API.md).

The WSGI application is driven directly for the limits (how much of the body it reads), and a real gunicorn
for what clients see: the curl line of issue 12, the ImageRecycle upload whose `auth` is a form field, a
chunked JSON body, and a 413 that arrives while the body is still being sent.
"""

import http.client
import io
import json
import shutil
import socket
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import override_settings
from urllib3.filepost import encode_multipart_formdata

from accounts import services
from accounts.models import Account
from crush.request_body import max_body_bytes
from crush.wsgi import application
from tests.compression.pipeline_support import jpeg
from tests.live_web import LiveWeb

CHUNK_BYTES = 8 * 1024


def imagerecycle_auth(account: Account) -> str:
    issued = services.api_key_create(account=account)
    return json.dumps({"key": issued.api_key.key, "secret": issued.secret})


def chunks(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), CHUNK_BYTES):
        yield data[start : start + CHUNK_BYTES]


def send_chunked(
    web: LiveWeb, path: str, body: bytes, headers: dict[str, str], method: str = "POST"
) -> tuple[int, Any]:
    """Sends `body` as http.client sends an iterable: chunked, no Content-Length."""
    connection = http.client.HTTPConnection("127.0.0.1", web.port, timeout=120)
    try:
        connection.request(method, path, body=chunks(body), headers=headers, encode_chunked=True)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


# --- the WSGI application, driven directly ----------------------------------------------------------------


class EndlessBody(io.RawIOBase):
    """A de-chunked request stream that never ends; counts what the application read of it."""

    def __init__(self) -> None:
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = len(buffer)
        buffer[:size] = b"x" * size
        self.bytes_read += size
        return size


def call_wsgi(path: str, stream: Any, *, terminated: bool = True, **headers: str) -> tuple[str, dict, bytes]:
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "CONTENT_TYPE": "multipart/form-data; boundary=x",
        "wsgi.input": stream,
        "wsgi.input_terminated": terminated,
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        **headers,
    }
    answer: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        answer["status"] = status
        answer["headers"] = dict(response_headers)

    result = application(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()
    return answer["status"], answer["headers"], body


@pytest.mark.django_db
@override_settings(CRUSH_MAX_INPUT_BYTES=4096)
@pytest.mark.parametrize(
    ("path", "shape"),
    [("/v1/compress", {"message", "formatted_message", "code"}), ("/imagerecycle/v1/images", {"errCode"})],
)
def test_chunked_body_past_the_limit_is_a_413_read_no_further(path: str, shape: set[str]) -> None:
    stream = EndlessBody()

    status, headers, body = call_wsgi(path, stream)

    assert status.startswith("413 ")
    assert headers["Content-Type"] == "application/json"
    assert shape <= set(json.loads(body))
    assert json.loads(body).get("code") == "request_too_large"
    assert stream.bytes_read <= max_body_bytes() + 1


@pytest.mark.django_db
def test_chunked_body_the_server_did_not_decode_is_a_411() -> None:
    stream = io.BytesIO(b"5\r\nhello\r\n0\r\n\r\n")  # raw chunk framing, as wsgiref passes it through

    status, _, body = call_wsgi("/imagerecycle/v1/images", stream, terminated=False)

    assert status.startswith("411 ")
    assert json.loads(body)["errCode"] == 411
    assert stream.tell() == 0


# --- a real gunicorn --------------------------------------------------------------------------------------


@pytest.fixture
def web(live_web: Callable[..., LiveWeb]) -> LiveWeb:
    return live_web()


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_chunked_upload_to_compress_is_completed(
    web: LiveWeb, live_worker: Callable[..., Any], token: str, tmp_path: Any
) -> None:
    live_worker(queues="sync")  # runs the synchronous job the request waits for
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg(320, 200))

    answer = subprocess.run(
        [
            "curl",
            "--silent",
            "--show-error",
            "--max-time",
            "120",
            "-H",
            "Transfer-Encoding: chunked",
            "-H",
            f"Authorization: Bearer {token}",
            "-F",
            f"file=@{photo}",
            f"{web.url}/v1/compress",
            "--write-out",
            "\n%{http_code}",
        ],
        capture_output=True,
        check=True,
        timeout=150,
    )

    body, status = answer.stdout.rsplit(b"\n", 1)
    assert status == b"200", body
    original = json.loads(body)["original_image"]
    assert original["status"] == "completed"
    assert original["size"] == photo.stat().st_size
    assert original["filename"] == "photo.jpg"


@pytest.mark.slow
def test_chunked_multipart_upload_on_both_surfaces(
    web: LiveWeb, live_worker: Callable[..., Any], account: Account, token: str
) -> None:
    live_worker(queues="sync")
    data = jpeg(200, 120)
    crush_body, crush_type = encode_multipart_formdata(
        {"file": ("photo.jpg", data, "image/jpeg"), "compression_type": "lossless", "origin": "api"}
    )
    recycle_body, recycle_type = encode_multipart_formdata(
        {"auth": imagerecycle_auth(account), "file": ("photo.jpg", data, "image/jpeg")}
    )

    crush_status, crush = send_chunked(
        web, "/v1/compress", crush_body, {"Authorization": f"Bearer {token}", "Content-Type": crush_type}
    )
    recycle_status, recycle = send_chunked(
        web, "/imagerecycle/v1/images", recycle_body, {"Content-Type": recycle_type}
    )

    assert crush_status == 200, crush
    assert crush["original_image"]["compression_type"] == "lossless"
    assert crush["original_image"]["size"] == len(data)
    assert recycle_status == 201, recycle  # its auth field arrived with the file
    assert recycle["size_before"] == len(data)


@pytest.mark.slow
def test_chunked_json_body_is_read(web: LiveWeb, token: str) -> None:
    body = json.dumps({"compression_level_jpg": 42}).encode()

    status, answer = send_chunked(
        web,
        "/v1/shop",
        body,
        {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="PATCH",
    )

    assert status == 200, answer
    assert answer["shop"]["compression_level_jpg"] == 42


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "key"), [("/v1/compress", "message"), ("/imagerecycle/v1/images", "errCode")]
)
def test_413_arrives_while_the_chunked_body_is_still_being_sent(
    live_web: Callable[..., LiveWeb], token: str, path: str, key: str
) -> None:
    web = live_web(env={"CRUSH_MAX_INPUT_BYTES": "4096"})
    limit = 4096 + 2**20  # the same allowance for form framing as crush.request_body
    chunk = b"x" * CHUNK_BYTES
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        "Content-Type: multipart/form-data; boundary=x\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()

    with socket.create_connection(("127.0.0.1", web.port), timeout=60) as client:
        client.sendall(head)
        for _ in range(limit // CHUNK_BYTES + 2):  # past the limit; the closing 0-chunk never comes
            client.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        answer = _read_until_closed(client)

    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 413 "), answer[:300]
    body = json.loads(rest.split(b"\r\n\r\n", 1)[1])
    assert key in body
    assert body["code"] == "request_too_large"
    assert web.process.poll() is None


def _read_until_closed(client: socket.socket) -> bytes:
    received = b""
    while True:
        try:
            data = client.recv(65536)
        except ConnectionResetError:
            break
        if not data:
            break
        received += data
    return received


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "key"), [("/v1/original_images", "message"), ("/imagerecycle/v1/images", "errCode")]
)
def test_broken_chunk_framing_is_a_json_400(live_web: Callable[..., LiveWeb], path: str, key: str) -> None:
    web = live_web()
    request = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n4\r\n{}{}\r\nzz\r\n"  # "zz" is no chunk size
    ).encode()

    with socket.create_connection(("127.0.0.1", web.port), timeout=60) as client:
        client.sendall(request)
        answer = _read_until_closed(client)

    head, _, content = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 "), answer[:300]
    assert b"Content-Type: application/json" in head
    body = json.loads(content)
    assert key in body
    assert body["code"] == "bad_request"
    assert web.process.poll() is None
