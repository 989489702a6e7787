"""Chunked request bodies (`Transfer-Encoding: chunked`, no `Content-Length`) for Django.

Django reads a request body through `CONTENT_LENGTH` only: without it the body is empty, so a multipart
upload streamed chunked (the Crush.pics Node client, `curl -H 'Transfer-Encoding: chunked'`) lost its file
and its fields. gunicorn decodes the chunks itself and marks the stream with `wsgi.input_terminated` (it
ends at the body's end); this WSGI layer reads that stream into a spooled temporary file, at most the
largest body the API accepts, and hands Django a body of known length. A body past the limit is answered
413 as soon as the limit is crossed, without reading the rest; one with broken chunk framing, 400. Both in
the JSON shape of the request's surface, like every other answer on the API paths.
"""

import json
import logging
import tempfile
from collections.abc import Callable, Iterable, Iterator
from http import HTTPStatus
from typing import IO, Any

from django.conf import settings
from gunicorn.http.errors import ParseException

from crush.api.surfaces import CRUSHPICS, surface_of
from crush.middleware import REQUEST_ID_HEADER, request_id_start

logger = logging.getLogger(__name__)

# Room for the other form fields and the multipart framing around a file of CRUSH_MAX_INPUT_BYTES (the same
# allowance as the Content-Length check of the compress endpoints, compression.api.parsing).
FORM_OVERHEAD_BYTES = 2**20
READ_BYTES = 64 * 2**10

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def max_body_bytes() -> int:
    return int(settings.CRUSH_MAX_INPUT_BYTES) + FORM_OVERHEAD_BYTES


def is_chunked(environ: dict[str, Any]) -> bool:
    codings = [value.strip().lower() for value in environ.get("HTTP_TRANSFER_ENCODING", "").split(",")]
    return "chunked" in codings and not environ.get("CONTENT_LENGTH")


class ChunkedBodyMiddleware:
    """WSGI middleware: a chunked request reaches Django as a body of known length (or is refused)."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if not is_chunked(environ):
            return self.app(environ, start_response)
        if not environ.get("wsgi.input_terminated"):
            # A server that passes the raw chunked stream through (wsgiref, `manage.py runserver`): Django
            # would read it as an empty body. Say so rather than answer for a request that never arrived.
            return _error(
                environ,
                start_response,
                HTTPStatus.LENGTH_REQUIRED,
                "This server needs a Content-Length: send the body with one, or run it under gunicorn "
                "(make run) to send it chunked",
                "length_required",
            )
        limit = max_body_bytes()
        body = tempfile.SpooledTemporaryFile(  # closed with the response (_Closing)
            max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE, dir=settings.FILE_UPLOAD_TEMP_DIR
        )
        try:
            size = _copy(environ["wsgi.input"], body, limit=limit + 1)
        except (ParseException, OSError) as error:  # bad chunk framing, or the client went away mid-body
            body.close()
            logger.warning("chunked request body unreadable: %s", error)
            return _error(
                environ,
                start_response,
                HTTPStatus.BAD_REQUEST,
                f"The chunked request body is malformed or incomplete ({type(error).__name__})",
                "bad_request",
            )
        if size > limit:
            body.close()
            logger.warning("chunked request body past %d bytes refused", limit)
            return _error(
                environ,
                start_response,
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"The request body is larger than this server accepts ({limit} bytes)",
                "request_too_large",
            )
        body.seek(0)
        environ["wsgi.input"] = body
        environ["CONTENT_LENGTH"] = str(size)
        del environ["HTTP_TRANSFER_ENCODING"]  # what Django is handed now is a plain body of that length
        return _Closing(self.app(environ, start_response), body)


def _copy(source: IO[bytes], target: IO[bytes], *, limit: int) -> int:
    """Copies until the stream ends or `limit` bytes have been read; returns the bytes read."""
    size = 0
    while size < limit:
        data = source.read(min(READ_BYTES, limit - size))
        if not data:
            break
        target.write(data)
        size += len(data)
    return size


def _error(
    environ: dict[str, Any], start_response: StartResponse, status: HTTPStatus, message: str, code: str
) -> list[bytes]:
    surface = surface_of(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")) or CRUSHPICS
    content = json.dumps(surface.error_body(status.value, message, code)).encode()
    request_id = request_id_start(environ.get("HTTP_X_REQUEST_ID", ""))
    start_response(
        f"{status.value} {status.phrase}",
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(content))),
            (REQUEST_ID_HEADER, request_id),
        ],
    )
    return [content]


class _Closing:
    """The application's response, which also closes the spooled body when the server closes it."""

    def __init__(self, response: Iterable[bytes], body: IO[bytes]) -> None:
        self.response = response
        self.body = body

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.response)

    def close(self) -> None:
        try:
            close = getattr(self.response, "close", None)
            if close is not None:
                close()
        finally:
            self.body.close()
