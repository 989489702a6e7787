"""A URL parsed, resolved once and checked: where the request goes and what it sends as Host and auth."""

from __future__ import annotations

import base64
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

from crush.lib.netguard.addresses import IPAddress, address_refusal, numeric_host
from crush.lib.netguard.errors import MESSAGE_UNRESOLVED, NetworkError, UrlRefused

ALLOWED_SCHEMES = {"http": 80, "https": 443}


def resolve_host(host: str, port: int) -> list[IPAddress]:
    """Every address DNS gives for `host` (A and AAAA), in the resolver's order.

    Tests fake this for public names."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise NetworkError(MESSAGE_UNRESOLVED) from exc
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _canonname, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


@dataclass(frozen=True, slots=True)
class Target:
    scheme: str
    host: str  # IDNA-encoded hostname or IP literal (no brackets)
    port: int
    host_header: str
    path: str  # path and query, percent-encoded
    auth: str | None  # "Basic …" from user:pass@
    addresses: tuple[IPAddress, ...]

    @property
    def origin(self) -> tuple[str, str, int]:
        return self.scheme, self.host, self.port

    @property
    def display_url(self) -> str:
        """The URL without credentials (safe to return to the caller; logs use `log_url`)."""
        return f"{self.scheme}://{self.host_header}{self.path}"

    @property
    def log_url(self) -> str:
        """Scheme, host and port only: paths and queries may carry tokens."""
        return f"{self.scheme}://{self.host_header}"


def target_parse(url: str, *, allow_private: bool) -> Target:
    """Parse, resolve once and check `url`; raises UrlRefused or NetworkError."""
    if not isinstance(url, str) or not url or len(url) > 8192 or any(ord(char) < 0x21 for char in url):
        raise UrlRefused("URL refused: not a valid URL")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UrlRefused("URL refused: not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise UrlRefused("URL refused: only http and https URLs are allowed")
    raw_host = parts.hostname
    if not raw_host:
        raise UrlRefused("URL refused: the URL has no host")
    port = port or ALLOWED_SCHEMES[scheme]
    address = numeric_host(raw_host)
    if address is not None:
        host = str(address)
        addresses = [address]
    else:
        try:
            host = raw_host.encode("idna").decode("ascii")
        except UnicodeError:
            raise UrlRefused("URL refused: the host is not a valid hostname") from None
        addresses = resolve_host(host, port)
        if not addresses:
            raise NetworkError(MESSAGE_UNRESOLVED)
    for candidate in addresses:
        reason = address_refusal(candidate, allow_private=allow_private)
        if reason is not None:
            subject = "the host is" if address is not None else "the host resolves to"
            raise UrlRefused(f"URL refused: {subject} {reason} address, which is not publicly routable")
    bracketed = f"[{host}]" if ":" in host else host
    host_header = bracketed if port == ALLOWED_SCHEMES[scheme] else f"{bracketed}:{port}"
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    if parts.query:
        path += "?" + quote(parts.query, safe="/%:@!$&'()*+,;=-._~?")
    auth = None
    if parts.username is not None:
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        auth = "Basic " + base64.b64encode(credentials).decode("ascii")
    return Target(scheme, host, port, host_header, path, auth, tuple(addresses))


def check_url(url: str, *, allow_private: bool) -> None:
    """Raises UrlRefused (or NetworkError when the host does not resolve) if `url` could not be requested."""
    target_parse(url, allow_private=allow_private)
