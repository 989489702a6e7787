"""What the engine hands back, and the "never larger" rule."""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from .formats import Format
from .search import SearchHint

logger = logging.getLogger(__name__)

# Score reported when the input itself is returned: it is identical to itself.
IDENTICAL_SCORE = 100.0
# Result.warning when an optimizer failed and the input is handed back (pipeline.compress, the PDF codec).
KEPT_ORIGINAL_WARNING = "The optimizer failed on this file; the original is returned unchanged."


@dataclass(frozen=True, slots=True)
class Probe:
    format: Format
    width: int | None
    height: int | None
    frames: int
    pages: int


class Tried(NamedTuple):
    """One output format ``convert`` tried: its bytes and score, or why it was not made or not used."""

    format: str
    size: int | None
    ssimulacra2: float | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Result:
    data: bytes
    format: Format
    width: int | None
    height: int | None
    ssimulacra2: float | None
    unchanged: bool
    # Set when the optimizer failed and the engine fell back (pipeline.compress): what to tell the client.
    warning: str | None = None
    # What a balanced search learnt (its setting and measured points), whether or not its output was
    # kept: the same job's resize styles start from it (``CompressOptions.hint``). None without a search.
    search: SearchHint | None = None
    # The formats ``convert`` tried, in the order asked (empty without ``convert``).
    candidates: tuple[Tried, ...] = ()


def finish(
    original: bytes,
    output: bytes,
    fmt: Format,
    size: tuple[int | None, int | None],
    *,
    score: float | None,
    resized: bool,
    smaller: Callable[[int], bytes | None] | None = None,
    search: SearchHint | None = None,
) -> Result:
    """The output, never larger than the original: the original bytes when an output of the same
    size is not smaller; a resized output larger than the original is made again by ``smaller``
    (called with the byte limit; it returns an output within it, or None when it cannot)."""
    if not resized and len(output) >= len(original):
        return Result(
            original,
            fmt,
            size[0],
            size[1],
            None if score is None else IDENTICAL_SCORE,
            unchanged=True,
            search=search,
        )
    if resized and len(output) > len(original):
        reduced = smaller(len(original)) if smaller is not None else None
        if reduced is None or len(reduced) > len(original):
            logger.warning(
                "%s style of %d bytes cannot be made smaller than its %d-byte original",
                fmt,
                len(output),
                len(original),
            )
        else:
            logger.info(
                "%s style re-encoded from %d to %d bytes (original %d)",
                fmt,
                len(output),
                len(reduced),
                len(original),
            )
            return Result(reduced, fmt, size[0], size[1], None, unchanged=False, search=search)
    return Result(output, fmt, size[0], size[1], score, unchanged=False, search=search)


def largest_within(limit: int, encode: Callable[[int], bytes], low: int, high: int) -> bytes | None:
    """``encode``'s output for the highest setting in [low, high] that fits in ``limit`` bytes
    (sizes grow with the setting), by bisection; None when not even ``low`` fits."""
    best = None
    while low <= high:
        middle = (low + high) // 2
        out = encode(middle)
        if len(out) <= limit:
            best, low = out, middle + 1
        else:
            high = middle - 1
    return best
