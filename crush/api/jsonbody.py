"""JSON from clients, with a nesting limit: one place for every body and every JSON string inside a field.

Python's decoder recurses once per level and raises RecursionError (not ValueError) on deep input, and a
document just under the interpreter's limit still breaks whatever walks it next (serializers, the renderer).
`loads` refuses both as a plain ValueError, so every caller's existing `except ValueError` answers a 4xx.
"""

from __future__ import annotations

import codecs
import json
from typing import Any

from rest_framework import parsers as drf_parsers
from rest_framework.exceptions import ParseError

# Deeper than any document the API takes (a resize list of style objects is 3 levels).
MAX_JSON_DEPTH = 32


class JSONTooDeep(ValueError):
    def __init__(self) -> None:
        super().__init__(f"JSON nested more than {MAX_JSON_DEPTH} levels deep")


def _strict_constant(name: str) -> Any:
    raise ValueError(f"Invalid JSON value {name!r}")


def loads(text: str | bytes, **kwargs: Any) -> Any:
    """`json.loads`, raising ValueError (JSONTooDeep) for documents nested deeper than MAX_JSON_DEPTH."""
    try:
        value = json.loads(text, **kwargs)
    except RecursionError:
        raise JSONTooDeep() from None
    depth_check(value)
    return value


def depth_check(value: Any) -> None:
    """JSONTooDeep when `value` holds containers more than MAX_JSON_DEPTH deep (iterative: no recursion)."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > MAX_JSON_DEPTH:
            raise JSONTooDeep()
        pending.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))


class BoundedJSONParser(drf_parsers.JSONParser):
    """DRF's JSONParser with the nesting limit; the default JSON parser of both surfaces."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        encoding = str(drf_parsers.get_encoding(parser_context or {}))  # type: ignore[attr-defined]
        options: dict[str, Any] = {"parse_constant": _strict_constant} if self.strict else {}
        try:
            text = codecs.getreader(encoding)(stream).read()
            return loads(text, **options)
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
