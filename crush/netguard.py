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

from __future__ import annotations

import base64
import ipaddress
import logging
import re
import socket
import ssl
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote, urljoin, urlsplit

import certifi
import urllib3
from urllib3.exceptions import HTTPError as Urllib3Error

from crush.errors import CrushError

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_SCHEMES = {"http": 80, "https": 443}
REDIRECT_STATUSES = {301, 302, 303, 307, 308}
CHUNK_BYTES = 64 * 1024
USER_AGENT = "Crush/1.0 (+https://crush.pics)"


class UrlRefused(CrushError):
    """The URL may not be requested; the message says why and is safe to show to the client."""

    code = "url_refused"
    status = 422
    default_message = "URL refused"


class ResponseTooLarge(UrlRefused):
    """The answer's body is larger than the caller's byte cap."""

    code = "response_too_large"

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        super().__init__(f"URL refused: the answer is larger than {max_bytes} bytes")


class NetworkError(CrushError):
    """Resolving, connecting or reading failed (timeouts included); usually worth retrying."""

    code = "network_error"
    status = 422
    default_message = "The URL could not be reached"


@dataclass(frozen=True, slots=True)
class GuardedResponse:
    status: int
    headers: Mapping[str, str]  # case-insensitive
    body: bytes
    url: str  # the URL that answered (after redirects), credentials removed
    elapsed_seconds: float


# --- address policy -------------------------------------------------------------------------------

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

# Never a destination, even with allow_private: nothing can answer from these (and Linux quietly routes a
# connect to 0.0.0.0 to the local host).
_NEVER_V4 = [
    (_V4("0.0.0.0/8"), "an unspecified"),
    (_V4("224.0.0.0/4"), "a multicast"),
    (_V4("255.255.255.255/32"), "a broadcast"),
]
_NEVER_V6 = [
    (_V6("::/128"), "an unspecified"),
    (_V6("ff00::/8"), "a multicast"),
]

# Not globally routable (IANA special-purpose registries); refused unless allow_private.
_SPECIAL_V4 = [
    (_V4("10.0.0.0/8"), "a private"),
    (_V4("100.64.0.0/10"), "a shared (carrier-grade NAT)"),
    (_V4("127.0.0.0/8"), "a loopback"),
    (_V4("169.254.0.0/16"), "a link-local"),  # includes the cloud metadata address 169.254.169.254
    (_V4("172.16.0.0/12"), "a private"),
    (_V4("192.0.0.0/24"), "a reserved"),
    (_V4("192.0.2.0/24"), "a documentation"),
    (_V4("192.88.99.0/24"), "a reserved"),
    (_V4("192.168.0.0/16"), "a private"),
    (_V4("198.18.0.0/15"), "a benchmarking"),
    (_V4("198.51.100.0/24"), "a documentation"),
    (_V4("203.0.113.0/24"), "a documentation"),
    (_V4("240.0.0.0/4"), "a reserved"),
]
_SPECIAL_V6 = [
    (_V6("::1/128"), "a loopback"),
    (_V6("::/8"), "a reserved"),  # includes the deprecated IPv4-compatible ::a.b.c.d
    (_V6("64:ff9b:1::/48"), "a private NAT64"),
    (_V6("100::/64"), "a discard-only"),
    (_V6("2001::/23"), "a reserved"),  # IETF protocol assignments, Teredo included
    (_V6("2001:db8::/32"), "a documentation"),
    (_V6("3fff::/20"), "a documentation"),
    (_V6("fc00::/7"), "a unique-local"),
    (_V6("fe80::/10"), "a link-local"),
    (_V6("fec0::/10"), "a site-local"),
]
_GLOBAL_UNICAST_V6 = _V6("2000::/3")
_NAT64_V6 = _V6("64:ff9b::/96")


def _embedded_v4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries (mapped ::ffff:a.b.c.d, NAT64 64:ff9b::a.b.c.d, 6to4 2002:…)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64_V6:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def address_refusal(address: IPAddress, *, allow_private: bool) -> str | None:
    """Why `address` may not be connected to ("a loopback", …), or None when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            address = ipaddress.IPv6Address(str(address).split("%")[0])  # fe80::1%eth0 is still fe80::1
        embedded = _embedded_v4(address)
        if embedded is not None:
            reason = address_refusal(embedded, allow_private=allow_private)
            if reason is not None or address.ipv4_mapped is not None:
                return reason
        never: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str]] = list(_NEVER_V6)
        special: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str]] = list(_SPECIAL_V6)
    else:
        never, special = list(_NEVER_V4), list(_SPECIAL_V4)
    for network, reason in never:
        if address in network:
            return reason
    if allow_private:
        return None
    for network, reason in special:
        if address in network:
            return reason
    if isinstance(address, ipaddress.IPv6Address) and address not in _GLOBAL_UNICAST_V6:
        return "a reserved"
    return None


# --- host parsing ---------------------------------------------------------------------------------

_NUMERIC_PART = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$")


def _parse_ipv4_number(part: str) -> int | None:
    if part.startswith("0x"):
        return int(part[2:] or "0", 16)
    if len(part) > 1 and part.startswith("0"):
        return int(part, 8) if re.fullmatch(r"[0-7]+", part) else None
    return int(part)


def numeric_host(host: str) -> IPAddress | None:
    """The address a numeric host names, read like inet_aton (and the WHATWG URL parser) reads it.

    `2130706433`, `0x7f.1`, `017700000001`, `127.1`, `127.0.0.1.` → 127.0.0.1. None for a DNS name.
    Raises UrlRefused for a host that ends in a number but is not a valid address (`1.2.3.4.5`, `0x1g.1`).
    """
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host)
        except ValueError:
            raise UrlRefused("URL refused: the host is not a valid IPv6 address") from None
    parts = host.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()
    if not _NUMERIC_PART.match(parts[-1]):
        return None
    numbers = [_parse_ipv4_number(part) if _NUMERIC_PART.match(part) else None for part in parts]
    if len(parts) > 4 or any(number is None for number in numbers):
        raise UrlRefused("URL refused: the host is not a valid IPv4 address")
    values = [number for number in numbers if number is not None]
    *leading, last = values
    if any(value > 255 for value in leading) or last >= 256 ** (5 - len(values)):
        raise UrlRefused("URL refused: the host is not a valid IPv4 address")
    packed = last
    for index, value in enumerate(leading):
        packed += value << (8 * (3 - index))
    return ipaddress.IPv4Address(packed)


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
class _Target:
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


def _target(url: str, *, allow_private: bool) -> _Target:
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
    return _Target(scheme, host, port, host_header, path, auth, tuple(addresses))


def check_url(url: str, *, allow_private: bool) -> None:
    """Raises UrlRefused (or NetworkError when the host does not resolve) if `url` could not be requested."""
    _target(url, allow_private=allow_private)


# --- the request ----------------------------------------------------------------------------------


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.started = time.monotonic()
        self.ends = self.started + seconds

    def remaining(self) -> float:
        left = self.ends - time.monotonic()
        if left <= 0:
            raise NetworkError(MESSAGE_TIMEOUT)
        return left

    def elapsed(self) -> float:
        return time.monotonic() - self.started


def _pool(target: _Target, address: IPAddress, timeout: urllib3.Timeout) -> urllib3.HTTPConnectionPool:
    if target.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            host=str(address),
            port=target.port,
            timeout=timeout,
            retries=False,
            maxsize=1,
            cert_reqs="CERT_REQUIRED",
            ca_certs=certifi.where(),
            server_hostname=target.host,  # SNI and certificate use the name, the socket uses the address
            assert_hostname=target.host,
        )
    return urllib3.HTTPConnectionPool(
        host=str(address), port=target.port, timeout=timeout, retries=False, maxsize=1
    )


def _read_body(response: urllib3.BaseHTTPResponse, *, max_bytes: int, deadline: _Deadline) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise ResponseTooLarge(max_bytes)
    chunks: list[bytes] = []
    received = 0
    while True:
        deadline.remaining()
        chunk = response.read1(
            CHUNK_BYTES
        )  # returns after one receive, so a trickling server meets the deadline
        if not chunk:
            return b"".join(chunks)
        received += len(chunk)
        if received > max_bytes:
            raise ResponseTooLarge(max_bytes)
        chunks.append(chunk)


def _exchange(
    target: _Target,
    method: str,
    *,
    headers: dict[str, str],
    data: bytes | None,
    connect_timeout: float,
    read_timeout: float,
    deadline: _Deadline,
) -> tuple[urllib3.HTTPConnectionPool, urllib3.BaseHTTPResponse]:
    """Sends the request to the first resolved address that accepts a connection."""
    failure: Exception | None = None
    for address in target.addresses:
        remaining = deadline.remaining()
        timeout = urllib3.Timeout(connect=min(connect_timeout, remaining), read=min(read_timeout, remaining))
        pool = _pool(target, address, timeout)
        try:
            response = pool.urlopen(
                method,
                target.path,
                body=data,
                headers=headers,
                redirect=False,
                retries=False,
                preload_content=False,
                decode_content=False,
                assert_same_host=False,
            )
        except urllib3.exceptions.NewConnectionError as exc:
            pool.close()
            failure = exc
            continue
        except (Urllib3Error, OSError) as exc:
            pool.close()
            raise _network_error(exc) from exc
        return pool, response
    raise _network_error(failure) from failure


MESSAGE_TIMEOUT = "The URL did not answer in time"
MESSAGE_REFUSED = "The URL's server refused the connection"
MESSAGE_UNRESOLVED = "The URL's host could not be resolved"
MESSAGE_TLS_CERTIFICATE = "The URL's TLS certificate could not be verified"
MESSAGE_TLS = "The TLS handshake with the URL failed"
MESSAGE_UNREACHABLE = "The URL could not be reached"


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    """`exc`, what it wraps (urllib3 puts the ssl error in args) and what it was raised from, bounded."""
    pending = [exc]
    seen: list[BaseException] = []
    while pending and len(seen) < 16:
        item = pending.pop(0)
        if item is None or any(item is known for known in seen):
            continue
        seen.append(item)
        yield item
        pending.extend(arg for arg in item.args if isinstance(arg, BaseException))
        pending.extend((item.__cause__, item.__context__))


def _network_error(exc: Exception | None) -> NetworkError:
    """One message per cause: refused, unresolvable, TLS, time-out, otherwise unreachable.

    urllib3 makes NewConnectionError (refused, unreachable, DNS) a subclass of its TimeoutError, so the
    causes are read before the exception's own class.
    """
    chain = list(_chain(exc))
    if any(isinstance(item, ConnectionRefusedError) for item in chain):
        return NetworkError(MESSAGE_REFUSED)
    if any(isinstance(item, (urllib3.exceptions.NameResolutionError, socket.gaierror)) for item in chain):
        return NetworkError(MESSAGE_UNRESOLVED)
    if any(isinstance(item, ssl.SSLCertVerificationError) for item in chain):
        return NetworkError(MESSAGE_TLS_CERTIFICATE)
    if any(isinstance(item, (urllib3.exceptions.SSLError, ssl.SSLError)) for item in chain):
        return NetworkError(MESSAGE_TLS)
    if isinstance(exc, urllib3.exceptions.NewConnectionError):
        return NetworkError(MESSAGE_UNREACHABLE)
    if any(
        isinstance(item, (urllib3.exceptions.TimeoutError, TimeoutError, socket.timeout)) for item in chain
    ):
        return NetworkError(MESSAGE_TIMEOUT)
    return NetworkError(MESSAGE_UNREACHABLE)


def guarded_request(
    method: str,
    url: str,
    *,
    allow_private: bool,
    connect_timeout: float,
    read_timeout: float,
    total_timeout: float | None = None,
    max_bytes: int,
    follow_redirects: int = 0,
    headers: Mapping[str, str] | None = None,
    data: bytes | None = None,
    log_level: int = logging.INFO,
) -> GuardedResponse:
    """One guarded HTTP exchange (see the module docstring).

    `total_timeout` bounds everything (resolving, every redirect hop, the whole body); when None it is
    connect_timeout + read_timeout. Raises UrlRefused (scheme, host, address, too many redirects, body over
    `max_bytes` as ResponseTooLarge) or NetworkError (resolve/connect/read failure or timeout). `log_level`
    is that of the line logged per answer (a caller that logs its own line per request passes DEBUG).
    """
    deadline = _Deadline(total_timeout if total_timeout is not None else connect_timeout + read_timeout)
    method = method.upper()
    target = _target(url, allow_private=allow_private)
    auth = target.auth
    redirects = 0
    while True:
        request_headers = {
            "User-Agent": USER_AGENT,
            "Accept-Encoding": "identity",  # the byte cap counts what is stored, never a decompression bomb
            **(headers or {}),
            "Host": target.host_header,
        }
        if auth is not None:
            request_headers["Authorization"] = auth
        pool, response = _exchange(
            target,
            method,
            headers=request_headers,
            data=data,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            deadline=deadline,
        )
        try:
            location = response.headers.get("Location")
            if follow_redirects and response.status in REDIRECT_STATUSES and location:
                redirects += 1
                if redirects > follow_redirects:
                    raise UrlRefused(f"URL refused: more than {follow_redirects} redirects")
                next_target = _target(urljoin(target.display_url, location), allow_private=allow_private)
                logger.info("outbound %s %s -> %s (redirect)", method, target.log_url, response.status)
                if next_target.auth is not None:
                    auth = next_target.auth
                elif next_target.origin != target.origin:
                    auth = None  # credentials stay with the origin they were given for
                if response.status == 303 or (response.status in (301, 302) and method == "POST"):
                    method, data = "GET", None
                target = next_target
                continue
            body = _read_body(response, max_bytes=max_bytes, deadline=deadline)
        except (Urllib3Error, OSError) as exc:
            raise _network_error(exc) from exc
        finally:
            response.release_conn()
            pool.close()
        elapsed = deadline.elapsed()
        logger.log(
            log_level, "outbound %s %s -> %s in %.3fs", method, target.log_url, response.status, elapsed
        )
        return GuardedResponse(
            status=response.status,
            headers=urllib3.HTTPHeaderDict(response.headers),
            body=body,
            url=target.display_url,
            elapsed_seconds=elapsed,
        )
