"""Downloading an `image_url` through crush.lib.netguard (the one outbound-request guard).

Refusals are permanent (UrlRefused 422, FileTooLarge 413, DownloadFailed 422 for a 4xx answer); network
trouble and 5xx answers are DownloadUnavailable, which the worker retries a bounded number of times.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from django.conf import settings

from crush.lib.errors import FileTooLarge
from crush.lib.netguard import NetworkError, ResponseTooLarge, UrlRefused, check_url, guarded_request

MAX_REDIRECTS = 5

__all__ = [
    "MAX_REDIRECTS",
    "DownloadFailed",
    "DownloadUnavailable",
    "Downloaded",
    "UrlRefused",
    "image_download",
    "url_check",
]


class DownloadFailed(UrlRefused):
    """The server answered, but not with a file (4xx)."""

    code = "download_failed"


class DownloadUnavailable(NetworkError):
    """Timeouts, connection errors and 5xx answers: worth another try later."""

    code = "download_unavailable"


@dataclass(frozen=True, slots=True)
class Downloaded:
    data: bytes
    content_type: str
    filename: str


def url_check(*, url: str) -> None:
    """Raises UrlRefused when `url` could never be downloaded (scheme, host form, address)."""
    try:
        check_url(url, allow_private=settings.CRUSH_ALLOW_PRIVATE_URLS)
    except NetworkError as exc:
        raise DownloadUnavailable(exc.message) from exc


def image_download(*, url: str, max_bytes: int) -> Downloaded:
    try:
        response = guarded_request(
            "GET",
            url,
            allow_private=settings.CRUSH_ALLOW_PRIVATE_URLS,
            connect_timeout=settings.CRUSH_FETCH_CONNECT_TIMEOUT_SECONDS,
            read_timeout=settings.CRUSH_FETCH_READ_TIMEOUT_SECONDS,
            total_timeout=settings.CRUSH_FETCH_TOTAL_TIMEOUT_SECONDS,
            max_bytes=max_bytes,
            follow_redirects=MAX_REDIRECTS,
            headers={"Accept": "image/*,application/pdf;q=0.9,*/*;q=0.5"},
        )
    except ResponseTooLarge as exc:
        raise FileTooLarge(
            f"The file at the URL is larger than this account's file_max_size ({max_bytes} bytes)"
        ) from exc
    except NetworkError as exc:
        raise DownloadUnavailable(exc.message) from exc
    if 500 <= response.status:
        raise DownloadUnavailable(f"The URL answered HTTP {response.status}")
    if not 200 <= response.status < 300:
        raise DownloadFailed(f"The URL answered HTTP {response.status}")
    return Downloaded(
        data=response.body,
        content_type=response.headers.get("Content-Type", ""),
        filename=url_filename(response.url),
    )


def url_filename(url: str) -> str:
    """The last path segment of `url` (decoded), or "image" when there is none."""
    name = posixpath.basename(unquote(urlsplit(url).path)).strip()
    return name[:200] or "image"
