"""The only outbound HTTP of webhooks: one POST through crush.lib.netguard, summarised as an AttemptResult.

Never raises for an HTTP status, a timeout or a refused address: failure is a normal outcome here.
Redirects are not followed (the 3xx itself is the answer). Nothing here logs the URL's path, query or
credentials.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

from django.utils import timezone

from crush.lib import netguard

logger = logging.getLogger(__name__)

USER_AGENT = "Crush-Webhooks/1.0"
EXCERPT_BYTES = 1024  # the delivery log keeps the first 1 KiB of each answer
MAX_RESPONSE_BYTES = 1024 * 1024  # a receiver answering more than 1 MiB is misbehaving; the attempt fails
CONNECT_TIMEOUT_SECONDS = 5.0  # within the total timeout


@dataclass(frozen=True, slots=True)
class AttemptResult:
    status_code: int | None
    duration_seconds: float
    response_excerpt: str
    error: str
    retry_after_seconds: float | None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, (moment - timezone.now()).total_seconds())


def post(
    *, url: str, headers: Mapping[str, str], body: bytes, timeout_seconds: float, allow_private: bool
) -> AttemptResult:
    started = time.monotonic()
    try:
        response = netguard.guarded_request(
            "POST",
            url,
            allow_private=allow_private,
            connect_timeout=min(CONNECT_TIMEOUT_SECONDS, timeout_seconds),
            read_timeout=timeout_seconds,
            total_timeout=timeout_seconds,
            max_bytes=MAX_RESPONSE_BYTES,
            follow_redirects=0,
            headers={"User-Agent": USER_AGENT, "Content-Type": "application/json", **headers},
            data=body,
            log_level=logging.DEBUG,  # the delivery's own INFO line says how it went
        )
    except (netguard.UrlRefused, netguard.NetworkError) as exc:
        return AttemptResult(
            status_code=None,
            duration_seconds=time.monotonic() - started,
            response_excerpt="",
            error=str(exc.message)[:300],
            retry_after_seconds=None,
        )
    return AttemptResult(
        status_code=response.status,
        duration_seconds=response.elapsed_seconds,
        response_excerpt=response.body[:EXCERPT_BYTES].decode("utf-8", errors="replace"),
        error="",
        retry_after_seconds=retry_after_seconds(response.headers.get("Retry-After")),
    )
