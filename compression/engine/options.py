"""Value objects describing what the caller wants: compression type/level, resize style, limits."""

import re
from dataclasses import dataclass
from enum import StrEnum

from .errors import InvalidSpec
from .search import TARGET_SCORE, SearchHint

MIN_LEVEL = 1
MAX_LEVEL = 100
# The SSIMULACRA2 floor a caller may set for ``balanced`` (``CompressOptions.target``).
MIN_TARGET = 50
MAX_TARGET = 95
MAX_RESIZE_PX = 10_000

_HEX_COLOUR = re.compile(r"#(?:[0-9a-f]{3}|[0-9a-f]{4}|[0-9a-f]{6}|[0-9a-f]{8})")
NAMED_COLOURS: dict[str, tuple[int, int, int, int]] = {
    "transparent": (0, 0, 0, 0),
    "white": (255, 255, 255, 255),
    "black": (0, 0, 0, 255),
    "red": (255, 0, 0, 255),
    "green": (0, 128, 0, 255),
    "blue": (0, 0, 255, 255),
    "yellow": (255, 255, 0, 255),
    "gray": (128, 128, 128, 255),
    "grey": (128, 128, 128, 255),
}


# ``CompressOptions.preserve``: the metadata an output keeps (see ``metadata.py``).
PRESERVE_CHOICES = ("copyright", "creation", "location", "camera", "icc", "orientation")
DEFAULT_PRESERVE = frozenset({"icc"})
# ``CompressOptions.convert``: output formats to choose the smallest from ("auto": the input's, WebP, AVIF).
CONVERT_AUTO = "auto"
CONVERT_CHOICES = ("webp", "avif", "jxl", "jpeg", "jpg", "png", "gif", CONVERT_AUTO)


class CompressionType(StrEnum):
    LOSSY = "lossy"
    LOSSLESS = "lossless"
    BALANCED = "balanced"


class ResizeStrategy(StrEnum):
    EXACT = "exact"
    PORTRAIT = "portrait"
    LANDSCAPE = "landscape"
    AUTO = "auto"
    FIT = "fit"
    CROP = "crop"
    SQUARE = "square"
    FILL = "fill"


# Which dimensions each strategy needs (the other ones may be None or 0).
_NEEDS: dict[ResizeStrategy, tuple[str, ...]] = {
    ResizeStrategy.EXACT: ("width", "height"),
    ResizeStrategy.PORTRAIT: ("height",),
    ResizeStrategy.LANDSCAPE: ("width",),
    ResizeStrategy.AUTO: ("width", "height"),
    ResizeStrategy.FIT: ("width", "height"),
    ResizeStrategy.CROP: ("width", "height"),
    ResizeStrategy.SQUARE: ("width",),
    ResizeStrategy.FILL: ("width", "height"),
}


@dataclass(frozen=True, slots=True)
class CompressOptions:
    """``target``: the SSIMULACRA2 score every ``balanced`` output reaches (MIN_TARGET..MAX_TARGET).
    ``convert``: output formats (CONVERT_CHOICES) of which the smallest that meets the compression
    type's rule is returned; empty: the input's format. ``background``: the colour alpha is flattened
    over for an output without alpha (JPEG), white when None. ``preserve``: the metadata kept when
    ``strip_metadata`` (PRESERVE_CHOICES; ``metadata.py``); without ``strip_metadata`` all is kept.
    ``hint``: what the balanced search of the same job's original learnt (its ``Result.search``),
    so a resize style's search starts there instead of from scratch; it only changes how fast the
    search gets there, never the floor."""

    compression_type: CompressionType
    level: int = 80
    strip_metadata: bool = True
    hint: SearchHint | None = None
    target: float = TARGET_SCORE
    convert: tuple[str, ...] = ()
    background: str | None = None
    preserve: frozenset[str] = DEFAULT_PRESERVE

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "compression_type", CompressionType(self.compression_type))
        except ValueError:
            raise InvalidSpec("Unknown compression type.") from None
        if isinstance(self.level, bool) or not isinstance(self.level, int):
            raise InvalidSpec("The compression level must be an integer.")
        if not MIN_LEVEL <= self.level <= MAX_LEVEL:
            raise InvalidSpec(f"The compression level must be between {MIN_LEVEL} and {MAX_LEVEL}.")
        if isinstance(self.target, bool) or not isinstance(self.target, int | float):
            raise InvalidSpec("The quality target must be a number.")
        if not MIN_TARGET <= self.target <= MAX_TARGET:
            raise InvalidSpec(f"The quality target must be between {MIN_TARGET} and {MAX_TARGET}.")
        if not isinstance(self.convert, tuple) or any(value not in CONVERT_CHOICES for value in self.convert):
            raise InvalidSpec(f"convert takes {', '.join(CONVERT_CHOICES)}.")
        if self.background is not None:
            parse_colour(self.background)
        if not isinstance(self.preserve, frozenset) or not self.preserve <= set(PRESERVE_CHOICES):
            raise InvalidSpec(f"preserve takes {', '.join(PRESERVE_CHOICES)}.")
        if self.hint is not None and not isinstance(self.hint, SearchHint):
            raise InvalidSpec("The search hint must be a SearchHint.")


def parse_colour(value: str) -> tuple[int, int, int, int]:
    """RGBA 0..255 of a '#rgb', '#rgba', '#rrggbb', '#rrggbbaa' or named colour."""
    text = value.strip().lower()
    if text in NAMED_COLOURS:
        return NAMED_COLOURS[text]
    if not _HEX_COLOUR.fullmatch(text):
        raise InvalidSpec("The background must be a colour like '#ffffff' or 'transparent'.")
    digits = text[1:]
    if len(digits) in (3, 4):
        digits = "".join(c * 2 for c in digits)
    if len(digits) == 6:
        digits += "ff"
    r, g, b, a = (int(digits[i : i + 2], 16) for i in range(0, 8, 2))
    return (r, g, b, a)


@dataclass(frozen=True, slots=True)
class ResizeSpec:
    strategy: ResizeStrategy = ResizeStrategy.FIT
    width: int | None = None
    height: int | None = None
    background: str | None = None

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "strategy", ResizeStrategy(self.strategy))
        except ValueError:
            raise InvalidSpec("Unknown resize strategy.") from None
        for name in ("width", "height"):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidSpec(f"The resize {name} must be an integer.")
            if value < 0 or value > MAX_RESIZE_PX:
                raise InvalidSpec(f"The resize {name} must be between 1 and {MAX_RESIZE_PX}.")
            if value == 0:
                object.__setattr__(self, name, None)
        for name in _NEEDS[self.strategy]:
            if getattr(self, name) is None:
                raise InvalidSpec(f"The '{self.strategy}' strategy needs a {name}.")
        if self.background is not None:
            if not isinstance(self.background, str):
                raise InvalidSpec("The background must be a colour string.")
            parse_colour(self.background)

    @property
    def background_rgba(self) -> tuple[int, int, int, int] | None:
        return None if self.background is None else parse_colour(self.background)


@dataclass(frozen=True, slots=True)
class EngineLimits:
    max_input_bytes: int = 50 * 2**20
    max_pixels: int = 100_000_000
    max_frames: int = 1000
    max_pdf_pages: int = 2000
    max_svg_bytes: int = 5 * 2**20
