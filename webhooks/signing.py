"""Standard Webhooks signatures (https://www.standardwebhooks.com/): pure functions, no Django.

The signed content is `"{msg_id}.{timestamp}.{body}"`; the key is the base64 part of the `whsec_…` secret,
decoded; the header value is `v1,<base64 HMAC-SHA256>` (several may be listed, separated by spaces).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
SECRET_BYTES = 32  # the spec asks for 24–64 random bytes
SIGNATURE_VERSION = "v1"


def secret_generate() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(*, secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header value for one attempt."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), content, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode('ascii')}"


def verify(*, secret: str, msg_id: str, timestamp: int, body: bytes, signature_header: str) -> bool:
    """True when any `v1,` signature in the header matches (constant-time comparison)."""
    expected = sign(secret=secret, msg_id=msg_id, timestamp=timestamp, body=body).encode()
    return any(
        hmac.compare_digest(expected, candidate.encode())
        for candidate in signature_header.split()
        if candidate.startswith(f"{SIGNATURE_VERSION},")
    )
