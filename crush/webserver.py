"""The web server's own answers in JSON: gunicorn answers a request it cannot parse (a malformed request line
or header, an unknown transfer coding, an oversized header) before Django sees it, with an HTML page.

API.md allows no HTML error page on the API paths, whoever answers. gunicorn has no setting for its error
pages, so `gunicorn.conf.py` (read by gunicorn from the working directory: `make run`, the Docker image)
replaces its one writer of them in each worker process. The request could not be parsed, so its surface is
unknown: the body carries the keys of both shapes, `{"message", "formatted_message"}` (/v1/) and
`{"errCode", "errMessage"}` (ImageRecycle), with `code`.
"""

import json
import socket
from http import HTTPStatus
from typing import Any

from gunicorn import util


def json_error_page(status: int, message: str) -> bytes:
    try:
        code = HTTPStatus(status).name.lower()
    except ValueError:
        code = "bad_request"
    body = json.dumps(
        {
            "message": message,
            "formatted_message": message,
            "errCode": status,
            "errMessage": message,
            "code": code,
        }
    ).encode()
    return body


def write_json_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    """Drop-in for `gunicorn.util.write_error`."""
    body = json_error_page(status_int, mesg or reason)
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body)


def json_error_pages(worker: Any = None) -> None:
    """gunicorn's `post_worker_init` hook."""
    util.write_error = write_json_error
