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
MAX_FILENAME_CHARS = 200
LOSSY_ONLY_MESSAGE = "JPEG cannot hold an image losslessly: ask for png, webp or avif with lossless."


@dataclass(frozen=True, slots=True)
class StyleRequest:
    style: str
    strategy: str
    width: int | None
    height: int | None
    background: str | None = None
    convert: tuple[str, ...] | None = None  # None: the request's


@dataclass(frozen=True, slots=True)
class SubmitOptions:
    """None means the account's default (compression) or the surface's default (origin)."""

    compression_type: str | None = None
    compression_level: int | None = None
    quality_target: int | None = None
    convert: tuple[str, ...] = ()
    preserve: tuple[str, ...] | None = None  # None: the ICC profile only
    resize: tuple[StyleRequest, ...] = ()
    strip_tags: bool = True
    origin: str | None = None
    # The full-size output resized too (ImageRecycle's `params.resize` bound, Kraken's single `resize`).
    main_resize: StyleRequest | None = None
    # The colour alpha is flattened over when an output cannot hold it (Kraken's `convert.background`);
    # None: white. A resize style's own background wins.
    background: str | None = None
    # A one-job receiver of the result (Kraken's `callback_url`), on top of the account's callback URLs.
    callback_url: str = ""


def options_validate(options: SubmitOptions) -> None:
    """The rules of a submit's options. Their shape (types, ranges, lengths, choices) is the surface's: each
    surface's serializer checks it, in its own words, before the service is called."""
    errors = _styles_errors(options.resize)
    if options.main_resize is not None:
        try:
            resize_spec(options.main_resize)
        except EngineError as exc:
            errors.append(exc.message)
    if errors:
        raise ValidationFailed({"resize": errors})
    if options.compression_type == engine.CompressionType.LOSSLESS and any(
        _only_lossy(convert) for convert in (options.convert, *(style.convert for style in options.resize))
    ):
        raise ValidationFailed({"convert": [LOSSY_ONLY_MESSAGE]})


def _only_lossy(convert: tuple[str, ...] | None) -> bool:
    """Whether ``convert`` asks only for formats that cannot hold an image losslessly (JPEG)."""
    return bool(convert) and all(name in ("jpeg", "jpg") for name in convert or ())


def _styles_errors(styles: tuple[StyleRequest, ...]) -> list[str]:
    """At most CRUSH_MAX_RESIZE_STYLES, each with a name of its own and a geometry its strategy takes."""
    if len(styles) > settings.CRUSH_MAX_RESIZE_STYLES:
        return [f"At most {settings.CRUSH_MAX_RESIZE_STYLES} resize styles."]
    errors: list[str] = []
    seen: set[str] = set()
    for style in styles:
        name = style.style.strip()
        if name == ORIGINAL_STYLE:
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
