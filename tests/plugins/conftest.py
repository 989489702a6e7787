"""Requests built byte for byte as the WordPress plugins' PHP builds them (reference: the public plugin code;
none of it is copied here): PHP's `json_encode`, cURL's multipart bodies and `http_build_query`."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit
from urllib.request import urlopen

from rest_framework.test import APIClient


def php_json_encode(value: Any) -> str:
    """PHP's `json_encode` with default flags: no spaces, `/` escaped as `\\/`, non-ASCII as `\\uXXXX`."""
    return json.dumps(value, separators=(",", ":")).replace("/", "\\/")


def http_build_query(fields: list[tuple[str, str | int]]) -> str:
    """PHP's `http_build_query` (RFC 1738: spaces as `+`), fields in the order given."""
    return urlencode(fields)


@dataclass(frozen=True, slots=True)
class CurlFile:
    """PHP's `new CURLFile($path)`: the part's filename is the path's base name; without a MIME type given,
    libcurl names one from the extension."""

    filename: str
    data: bytes
    content_type: str = "image/jpeg"


def curl_multipart(fields: list[tuple[str, str | CurlFile]]) -> tuple[bytes, str]:
    """The body and Content-Type cURL sends for `CURLOPT_POSTFIELDS` = a PHP array, parts in order."""
    boundary = "------------------------" + secrets.token_hex(8)
    body = b""
    for name, value in fields:
        body += f"--{boundary}\r\n".encode()
        if isinstance(value, CurlFile):
            body += (
                f'Content-Disposition: form-data; name="{name}"; filename="{value.filename}"\r\n'
                f"Content-Type: {value.content_type}\r\n\r\n"
            ).encode() + value.data
        else:
            body += f'Content-Disposition: form-data; name="{name}"\r\n\r\n{value}'.encode()
        body += b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def fetch(url: str) -> bytes:
    """A plain GET of an absolute link as the plugins download results (cURL with FOLLOWLOCATION,
    `file_get_contents`, `wp_remote_get`): at the link's own host, following S3's presigned redirect."""
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    response: Any = APIClient().get(path, HTTP_HOST=parts.netloc, secure=parts.scheme == "https")
    if response.status_code == 302:
        with urlopen(response["Location"], timeout=10) as presigned:
            return bytes(presigned.read())
    assert response.status_code == 200, (url, response.status_code)
    return b"".join(response.streaming_content) if response.streaming else bytes(response.content)
