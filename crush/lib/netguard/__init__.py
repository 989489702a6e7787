"""The one guard every outbound HTTP request goes through (image_url downloads, webhook deliveries).

What it enforces (DESIGN.md "Security rules"):
- http and https only; `user:pass@` in the URL becomes HTTP basic auth and never reaches a log line;
- the host is resolved once (every A and AAAA record) and every address must be globally routable unless
  `allow_private`; the connection then goes to that resolved address while the Host header, TLS SNI and the
  certificate check keep using the hostname — a second DNS answer can never redirect the request
  (no DNS rebinding);
- numeric host forms are read the way libc's inet_aton reads them (`2130706433`, `0x7f.1`, `017700000001`,
  `127.1` are all 127.0.0.1), so they meet the same address check;
- every redirect target is checked again like the first URL; redirects are followed only up to
  `follow_redirects` (0 = the 3xx itself is the answer);
- connect and read timeouts per socket operation plus an overall deadline, and a byte cap on the body.

An HTTP status is never an error here: a 404 is a GuardedResponse with status 404.
"""

from crush.lib.netguard.addresses import IPAddress, address_refusal, numeric_host
from crush.lib.netguard.client import GuardedResponse, guarded_request
from crush.lib.netguard.errors import (
    MESSAGE_REFUSED,
    MESSAGE_TIMEOUT,
    MESSAGE_TLS,
    MESSAGE_TLS_CERTIFICATE,
    MESSAGE_UNREACHABLE,
    MESSAGE_UNRESOLVED,
    NetworkError,
    ResponseTooLarge,
    UrlRefused,
)
from crush.lib.netguard.target import check_url, resolve_host

__all__ = [
    "MESSAGE_REFUSED",
    "MESSAGE_TIMEOUT",
    "MESSAGE_TLS",
    "MESSAGE_TLS_CERTIFICATE",
    "MESSAGE_UNREACHABLE",
    "MESSAGE_UNRESOLVED",
    "GuardedResponse",
    "IPAddress",
    "NetworkError",
    "ResponseTooLarge",
    "UrlRefused",
    "address_refusal",
    "check_url",
    "guarded_request",
    "numeric_host",
    "resolve_host",
]
