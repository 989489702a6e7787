"""Random credentials and their stored hashes (≥ 128 random bits; only SHA-256 digests are stored)."""

import hashlib
import hmac
import secrets

TOKEN_PREFIX = "crush_"  # noqa: S105 - a public marker, not a secret
TOKEN_RANDOM_BYTES = 32  # 256 bits
KEY_RANDOM_BYTES = 16  # public identifier
SECRET_RANDOM_BYTES = 32
VISIBLE_PREFIX_CHARS = 12


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def matches(value: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(value), stored_digest)


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_RANDOM_BYTES)


def visible_prefix(token: str) -> str:
    return token[:VISIBLE_PREFIX_CHARS]


def new_key() -> str:
    return secrets.token_hex(KEY_RANDOM_BYTES)


def new_secret() -> str:
    return secrets.token_urlsafe(SECRET_RANDOM_BYTES)
