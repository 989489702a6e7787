"""What a submit may ask for (compression options, resize styles) and the rules it must follow."""

from __future__ import annotations

import posixpath
import unicodedata
from dataclasses import dataclass
from typing import cast

from django.conf import settings

from compression import engine
from compression.engine import (
    EngineError,
    EngineLimits,
)
from compression.models import OptimizedImage
from crush.lib.errors import ValidationFailed

ORIGINAL_STYLE = OptimizedImage.ORIGINAL_STYLE
_COMPRESSION_TYPES = {choice.value for choice in engine.CompressionType}
MAX_STYLE_CHARS = 64
MAX_ORIGIN_CHARS = 32
MAX_FILENAME_CHARS = 200


@dataclass(frozen=True, slots=True)
class StyleRequest:
    style: str
    strategy: str
    width: int | None
    height: int | None
    background: str | None = None


@dataclass(frozen=True, slots=True)
class SubmitOptions:
    """None means the account's default (compression) or the surface's default (origin)."""

    compression_type: str | None = None
    compression_level: int | None = None
    resize: tuple[StyleRequest, ...] = ()
    strip_tags: bool = True
    origin: str | None = None


def options_validate(options: SubmitOptions) -> None:
    errors: dict[str, list[str]] = {}
    if options.compression_type is not None and options.compression_type not in _COMPRESSION_TYPES:
        errors["compression_type"] = ["Must be one of lossy, lossless, balanced."]
    level = options.compression_level
    if level is not None and (isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 100):
        errors["compression_level"] = ["Must be an integer between 1 and 100."]
    if options.origin is not None and len(options.origin) > MAX_ORIGIN_CHARS:
        errors["origin"] = [f"Must be at most {MAX_ORIGIN_CHARS} characters."]
    resize_errors = _styles_errors(options.resize)
    if resize_errors:
        errors["resize"] = resize_errors
    if errors:
        raise ValidationFailed(errors)


def _styles_errors(styles: tuple[StyleRequest, ...]) -> list[str]:
    errors: list[str] = []
    if len(styles) > settings.CRUSH_MAX_RESIZE_STYLES:
        return [f"At most {settings.CRUSH_MAX_RESIZE_STYLES} resize styles."]
    seen: set[str] = set()
    for style in styles:
        name = style.style.strip() if isinstance(style.style, str) else ""
        if not name:
            errors.append("Every resize style needs a name ('style').")
            continue
        if len(name) > MAX_STYLE_CHARS:
            errors.append(f"Style names are at most {MAX_STYLE_CHARS} characters.")
        elif name == ORIGINAL_STYLE:
            errors.append(f"The style name '{ORIGINAL_STYLE}' is reserved.")
        elif name in seen:
            errors.append(f"The style name '{name}' is used twice.")
        seen.add(name)
        try:
            resize_spec(style)
        except EngineError as exc:
            errors.append(f"{name}: {exc.message}")
    return errors


def resize_spec(style: StyleRequest) -> engine.ResizeSpec:
    return engine.ResizeSpec(
        # a str: ResizeSpec converts it and raises InvalidSpec for an unknown strategy
        strategy=cast(engine.ResizeStrategy, style.strategy or engine.ResizeStrategy.FIT),
        width=style.width,
        height=style.height,
        background=style.background,
    )


def filename_clean(name: str) -> str:
    """The client's filename without directories or control characters (shown back, never used as a key)."""
    name = posixpath.basename(name.replace("\\", "/"))
    name = "".join(char for char in name if unicodedata.category(char)[0] != "C").strip()
    return name[-MAX_FILENAME_CHARS:]


def engine_limits() -> EngineLimits:
    return EngineLimits(
        max_input_bytes=settings.CRUSH_MAX_INPUT_BYTES,
        max_pixels=settings.CRUSH_MAX_PIXELS,
        max_frames=settings.CRUSH_MAX_FRAMES,
        max_pdf_pages=settings.CRUSH_MAX_PDF_PAGES,
        max_svg_bytes=settings.CRUSH_MAX_SVG_BYTES,
    )
