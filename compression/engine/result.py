"""What the engine hands back, and the "never larger" rule."""

from dataclasses import dataclass

from .formats import Format

# Score reported when the input itself is returned: it is identical to itself.
IDENTICAL_SCORE = 100.0


@dataclass(frozen=True, slots=True)
class Probe:
    format: Format
    width: int | None
    height: int | None
    frames: int
    pages: int


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


def finish(
    original: bytes,
    output: bytes,
    fmt: Format,
    size: tuple[int | None, int | None],
    *,
    score: float | None,
    resized: bool,
) -> Result:
    """The output, or the original bytes when the output is not smaller (a resized image is
    always returned: its size cannot be compared with the original's)."""
    if not resized and len(output) >= len(original):
        return Result(
            original,
            fmt,
            size[0],
            size[1],
            None if score is None else IDENTICAL_SCORE,
            unchanged=True,
        )
    return Result(output, fmt, size[0], size[1], score, unchanged=False)
