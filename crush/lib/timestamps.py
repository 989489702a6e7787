"""The one timestamp format of both API surfaces: ISO 8601, UTC, milliseconds, `Z` (API.md §1 "Objects").

`iso_utc()` for hand-built payloads (webhook bodies), `UtcTimestampField` in DRF output serializers so the
OpenAPI schema still says `date-time`.
"""

import datetime
from typing import Any

from rest_framework import serializers


def iso_utc(moment: datetime.datetime | None) -> str | None:
    """`2018-06-29T15:52:22.589Z`; None stays None. Naive datetimes are taken as UTC."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.astimezone(datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class UtcTimestampField(serializers.DateTimeField):
    """Read-only output field rendering with `iso_utc()`."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value: datetime.datetime | None) -> str | None:  # type: ignore[override]
        return iso_utc(value)
