"""The request itself: connect to a resolved address, follow checked redirects, cap time and bytes."""

from __future__ import annotations

import logging
import socket
import ssl
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from urllib.parse import urljoin

import certifi
import urllib3
from urllib3.exceptions import HTTPError as Urllib3Error

from crush.lib.netguard import errors
from crush.lib.netguard.addresses import IPAddress
from crush.lib.netguard.target import Target, target_parse

logger = logging.getLogger(__name__)

REDIRECT_STATUSES = {301, 302, 303, 307, 308}
CHUNK_BYTES = 64 * 1024
USER_AGENT = "Crush/1.0 (+https://crush.pics)"


@dataclass(frozen=True, slots=True)
class GuardedResponse:
    status: int
    headers: Mapping[str, str]  # case-insensitive
    body: bytes
    url: str  # the URL that answered (after redirects), credentials removed
    elapsed_seconds: float


# --- the request ----------------------------------------------------------------------------------


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.started = time.monotonic()
        self.ends = self.started + seconds

    def remaining(self) -> float:
        left = self.ends - time.monotonic()
        if left <= 0:
            raise errors.NetworkError(errors.MESSAGE_TIMEOUT)
        return left

    def elapsed(self) -> float:
        return time.monotonic() - self.started


def _pool(target: Target, address: IPAddress, timeout: urllib3.Timeout) -> urllib3.HTTPConnectionPool:
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
        raise errors.ResponseTooLarge(max_bytes)
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
            raise errors.ResponseTooLarge(max_bytes)
        chunks.append(chunk)


def _exchange(
    target: Target,
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


def _network_error(exc: Exception | None) -> errors.NetworkError:
    """One message per cause: refused, unresolvable, TLS, time-out, otherwise unreachable.

    urllib3 makes NewConnectionError (refused, unreachable, DNS) a subclass of its TimeoutError, so the
    causes are read before the exception's own class.
    """
    chain = list(_chain(exc))
    if any(isinstance(item, ConnectionRefusedError) for item in chain):
        return errors.NetworkError(errors.MESSAGE_REFUSED)
    if any(isinstance(item, (urllib3.exceptions.NameResolutionError, socket.gaierror)) for item in chain):
        return errors.NetworkError(errors.MESSAGE_UNRESOLVED)
    if any(isinstance(item, ssl.SSLCertVerificationError) for item in chain):
        return errors.NetworkError(errors.MESSAGE_TLS_CERTIFICATE)
    if any(isinstance(item, (urllib3.exceptions.SSLError, ssl.SSLError)) for item in chain):
        return errors.NetworkError(errors.MESSAGE_TLS)
    if isinstance(exc, urllib3.exceptions.NewConnectionError):
        return errors.NetworkError(errors.MESSAGE_UNREACHABLE)
    if any(
        isinstance(item, (urllib3.exceptions.TimeoutError, TimeoutError, socket.timeout)) for item in chain
    ):
        return errors.NetworkError(errors.MESSAGE_TIMEOUT)
    return errors.NetworkError(errors.MESSAGE_UNREACHABLE)


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
    target = target_parse(url, allow_private=allow_private)
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
                    raise errors.UrlRefused(f"URL refused: more than {follow_redirects} redirects")
                next_target = target_parse(urljoin(target.display_url, location), allow_private=allow_private)
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
