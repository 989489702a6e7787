"""Multipart bodies whose part headers are not UTF-8 (a Latin-1 filename): kept, not silently dropped."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rest_framework.parsers import DataAndFiles, MultiPartParser

# A part's header block longer than this is passed through untouched (Django refuses it anyway).
_PART_HEADER_MAX_BYTES = 64 * 1024
_READ_BYTES = 64 * 1024


def _header_utf8(header: bytes) -> bytes:
    """A part's header block as UTF-8: one that is not (a Latin-1 filename) is read as Latin-1."""
    try:
        header.decode("utf-8")
    except UnicodeDecodeError:
        return header.decode("latin-1").encode("utf-8")
    return header


class PartHeadersUtf8Stream:
    """A multipart body with each part's header block re-encoded as UTF-8, content bytes untouched.

    Django skips a header line that is not UTF-8, so a part whose filename is Latin-1 (or any non-UTF-8
    bytes) lost its Content-Disposition and the file was silently dropped. Read here as Latin-1, the name
    then goes through Django's and the services' filename sanitising like any other.
    """

    def __init__(self, stream: Any, boundary: str) -> None:
        self._parts = self._filtered(stream, b"--" + boundary.encode("latin-1", "replace"))
        self._pending = bytearray()

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._pending) < size:
            chunk = next(self._parts, None)
            if chunk is None:
                break
            self._pending += chunk
        size = len(self._pending) if size < 0 else size
        out = bytes(self._pending[:size])
        del self._pending[:size]
        return out

    @staticmethod
    def _filtered(stream: Any, delimiter: bytes) -> Iterator[bytes]:
        buffer = b""
        in_headers = eof = False
        while True:
            if not eof:
                data = stream.read(_READ_BYTES)
                eof = not data
                buffer += data or b""
            if in_headers:
                end = buffer.find(b"\r\n\r\n")
                if end < 0 and not eof and len(buffer) <= _PART_HEADER_MAX_BYTES:
                    continue
                head, buffer = (buffer, b"") if end < 0 else (_header_utf8(buffer[:end]), buffer[end:])
                yield head
                in_headers = False
                continue
            start = buffer.find(delimiter)
            if start < 0:
                if eof:
                    yield buffer
                    return
                keep = len(delimiter) - 1  # a delimiter may straddle two reads
                if len(buffer) > keep:
                    yield buffer[:-keep]
                    buffer = buffer[-keep:]
                continue
            yield buffer[: start + len(delimiter)]
            buffer = buffer[start + len(delimiter) :]
            in_headers = True


def multipart_boundary(media_type: str) -> str | None:
    """The `boundary` parameter of a Content-Type, unquoted; None without one."""
    for parameter in media_type.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "boundary" and value.strip():
            return value.strip().strip('"')
    return None


class Utf8HeadersMultiPartParser(MultiPartParser):
    """DRF's multipart parser reading part headers through PartHeadersUtf8Stream; both surfaces' default."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> DataAndFiles:
        boundary = multipart_boundary(media_type or "")
        if stream is not None and boundary:
            stream = PartHeadersUtf8Stream(stream, boundary)
        return super().parse(stream, media_type, parser_context)
