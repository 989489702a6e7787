"""The raster step every pixel format shares: limits, header, orientation and the style's geometry,
run once before the codec; the style's pixels are rendered once however often a codec reads them."""

import pytest
import pyvips

from compression.engine import EngineLimits, Format, InputTooLarge, ResizeSpec, ResizeStrategy
from compression.engine.raster import open_raster
from tests.compression.engine.test_pipeline import jpeg_bytes

LIMITS = EngineLimits()


def test_a_rotated_jpeg_reports_its_display_size_and_decodes_upright() -> None:
    raster = open_raster(
        jpeg_bytes(120, 80, orientation=6), Format.JPEG, limits=LIMITS, resize=None, deadline=None
    )

    assert raster.size == (80, 120)
    assert raster.orientation == 6
    assert raster.recoded and not raster.resized
    pixels = raster.pixels(None, sequential=False)
    assert (pixels.width, pixels.height) == (80, 120)


def test_a_style_that_changes_the_size_is_rendered_once_in_memory() -> None:
    style = ResizeSpec(strategy=ResizeStrategy.CROP, width=30, height=30)
    raster = open_raster(jpeg_bytes(120, 80), Format.JPEG, limits=LIMITS, resize=style, deadline=None)

    first = raster.pixels(None, sequential=True)
    second = raster.pixels(None, sequential=False)

    assert raster.resized
    assert first is second
    assert (first.width, first.height) == (30, 30)


def test_a_style_that_keeps_the_size_is_no_resize() -> None:
    style = ResizeSpec(strategy=ResizeStrategy.FIT, width=400, height=400)
    raster = open_raster(jpeg_bytes(120, 80), Format.JPEG, limits=LIMITS, resize=style, deadline=None)

    assert raster.geometry is None
    assert not raster.recoded


def test_the_limits_are_checked_unless_the_probe_already_did() -> None:
    data = pyvips.Image.black(200, 200).pngsave_buffer()
    small = EngineLimits(max_pixels=100 * 100)

    with pytest.raises(InputTooLarge):
        open_raster(data, Format.PNG, limits=small, resize=None, deadline=None)
    assert open_raster(data, Format.PNG, limits=small, resize=None, deadline=None, guarded=True).size == (
        200,
        200,
    )
