"""Resize styles: geometry as a pure function of (source size, spec), then pixels with libvips.

Pixels come from ``thumbnail_buffer``, which shrinks on load (a 24 MP JPEG is decoded at 1/8
scale for a thumbnail), applies EXIF orientation and resizes every frame of an animation.
"""

from dataclasses import dataclass

import pyvips

from .decode import frame_count, page_height, vips_errors, watch
from .formats import Format
from .options import ResizeSpec, ResizeStrategy

WHITE = (255, 255, 255, 255)
TRANSPARENT = (0, 0, 0, 0)


@dataclass(frozen=True, slots=True)
class Geometry:
    """Scale the source to resize_width x resize_height, then centre-crop (when larger) or
    centre-pad (when smaller) to width x height."""

    resize_width: int
    resize_height: int
    width: int
    height: int

    def changes(self, src_width: int, src_height: int) -> bool:
        return (self.resize_width, self.resize_height, self.width, self.height) != (
            src_width,
            src_height,
            src_width,
            src_height,
        )


def _scaled(length: int, scale: float) -> int:
    return max(1, round(length * scale))


def _fit(src_w: int, src_h: int, box_w: float, box_h: float) -> tuple[int, int]:
    scale = min(box_w / src_w, box_h / src_h, 1.0)
    if scale >= 1.0:
        return src_w, src_h
    return _scaled(src_w, scale), _scaled(src_h, scale)


def _cover(src_w: int, src_h: int, box_w: int, box_h: int) -> Geometry:
    scale = min(max(box_w / src_w, box_h / src_h), 1.0)
    resize_w, resize_h = (src_w, src_h) if scale >= 1.0 else (_scaled(src_w, scale), _scaled(src_h, scale))
    return Geometry(resize_w, resize_h, min(box_w, resize_w), min(box_h, resize_h))


def target_geometry(src_w: int, src_h: int, spec: ResizeSpec) -> Geometry:
    """Where the pixels go; never enlarges the source (``fill`` pads the canvas instead)."""
    strategy = spec.strategy
    width, height = spec.width, spec.height
    if strategy is ResizeStrategy.AUTO:
        strategy = ResizeStrategy.LANDSCAPE if src_w >= src_h else ResizeStrategy.PORTRAIT
    if strategy is ResizeStrategy.EXACT:
        assert width and height
        w, h = min(width, src_w), min(height, src_h)
        return Geometry(w, h, w, h)
    if strategy is ResizeStrategy.LANDSCAPE:
        assert width
        w, h = _fit(src_w, src_h, width, float("inf"))
        return Geometry(w, h, w, h)
    if strategy is ResizeStrategy.PORTRAIT:
        assert height
        w, h = _fit(src_w, src_h, float("inf"), height)
        return Geometry(w, h, w, h)
    if strategy is ResizeStrategy.FIT:
        assert width and height
        w, h = _fit(src_w, src_h, width, height)
        return Geometry(w, h, w, h)
    if strategy is ResizeStrategy.CROP:
        assert width and height
        return _cover(src_w, src_h, width, height)
    if strategy is ResizeStrategy.SQUARE:
        assert width
        side = min(width, src_w, src_h)  # still a square when the source is smaller than asked
        return _cover(src_w, src_h, side, side)
    assert strategy is ResizeStrategy.FILL and width and height
    w, h = _fit(src_w, src_h, width, height)
    return Geometry(w, h, width, height)


def _has_alpha(image: pyvips.Image) -> bool:
    return image.bands in (2, 4)


def _background(image: pyvips.Image, spec: ResizeSpec, fmt: Format) -> tuple[pyvips.Image, list[float]]:
    """The image ready to pad (sRGB, alpha added when needed) and the background in its bands."""
    rgba = spec.background_rgba
    if rgba is None:
        rgba = TRANSPARENT if _has_alpha(image) and fmt is not Format.JPEG else WHITE
    if fmt is Format.JPEG and rgba[3] < 255:
        rgba = WHITE if rgba[3] == 0 else (*rgba[:3], 255)
    grey = rgba[0] == rgba[1] == rgba[2]
    if image.bands < 3 and not grey:
        image = image.colourspace("srgb")
    if rgba[3] < 255 and not _has_alpha(image):
        image = image.bandjoin_const([255 if image.format == "uchar" else 65535])
    scale = 257 if image.format == "ushort" else 1
    colour = [rgba[0]] if image.bands < 3 else list(rgba[:3])
    if _has_alpha(image):
        colour.append(rgba[3])
    return image, [c * scale for c in colour]


def _frame_apply(image: pyvips.Image, geometry: Geometry, spec: ResizeSpec, fmt: Format) -> pyvips.Image:
    if (image.width, image.height) == (geometry.width, geometry.height):
        return image
    if image.width >= geometry.width and image.height >= geometry.height:
        left = (image.width - geometry.width) // 2
        top = (image.height - geometry.height) // 2
        return image.crop(left, top, geometry.width, geometry.height)
    image, background = _background(image, spec, fmt)
    return image.gravity(
        "centre", geometry.width, geometry.height, extend="background", background=background
    )


def resize_image(
    data: bytes, fmt: Format, geometry: Geometry, spec: ResizeSpec, deadline: float | None
) -> pyvips.Image:
    """Scale with shrink-on-load, then crop or pad each frame to the geometry's final size."""
    option_string = "n=-1" if fmt in (Format.GIF, Format.WEBP) else ""
    with vips_errors(deadline):
        image = pyvips.Image.thumbnail_buffer(
            data,
            geometry.resize_width,
            height=geometry.resize_height,
            size="force",
            option_string=option_string,
        )
        frames = frame_count(image)
        if frames == 1:
            image = _frame_apply(image, geometry, spec, fmt)
        else:
            frame_h = page_height(image)
            parts = [
                _frame_apply(image.crop(0, i * frame_h, image.width, frame_h), geometry, spec, fmt)
                for i in range(frames)
            ]
            image = pyvips.Image.arrayjoin(parts, across=1).copy()
            image.set_type(pyvips.GValue.gint_type, "page-height", geometry.height)
        return watch(image, deadline)
