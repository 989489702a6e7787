"""URLs as shown to people (API answers, the admin): a password in the URL is kept where it is stored and
used (HTTP basic auth of a download or a delivery) but never displayed."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

MASK = "***"


def url_masked(url: str) -> str:
    """`https://user:secret@host/…` → `https://user:***@host/…`; a URL without a password is unchanged."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{hostport}"))
