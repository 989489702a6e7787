"""What the guard raises: refusals (permanent) and network failures (usually worth retrying)."""

from __future__ import annotations

from crush.lib.errors import CrushError

MESSAGE_TIMEOUT = "The URL did not answer in time"
MESSAGE_REFUSED = "The URL's server refused the connection"
MESSAGE_UNRESOLVED = "The URL's host could not be resolved"
MESSAGE_TLS_CERTIFICATE = "The URL's TLS certificate could not be verified"
MESSAGE_TLS = "The TLS handshake with the URL failed"
MESSAGE_UNREACHABLE = "The URL could not be reached"


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
