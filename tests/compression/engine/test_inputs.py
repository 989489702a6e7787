"""AVIF, HEIC/HEIF, TIFF and BMP inputs: recognised by their bytes, held to the limits before decoding, and
compressed into web formats (AVIF stays AVIF; the others become the smallest of JPEG or PNG, WebP, AVIF)."""

from __future__ import annotations

import io
import struct

import PIL.Image
import pillow_heif
import pytest
import pyvips

from compression.engine import (
    CompressionType,
    CompressOptions,
    CorruptInput,
    EngineLimits,
    Format,
    InputTooLarge,
    compress,
    probe,
    sniff,
)
from compression.engine.quality import ssimulacra2
from tests.compression.engine.test_quality_target import scene

pillow_heif.register_heif_opener()
BALANCED = CompressOptions(compression_type=CompressionType.BALANCED)
WIDTH, HEIGHT = 480, 360


def _pillow(fmt: str, image: pyvips.Image | None = None, **save: object) -> bytes:
    pixels = (image or scene(WIDTH, HEIGHT)).numpy()
    buffer = io.BytesIO()
    PIL.Image.fromarray(pixels).save(buffer, format=fmt, **save)
    return buffer.getvalue()


MAKERS = {
    Format.AVIF: lambda: scene(WIDTH, HEIGHT).heifsave_buffer(compression="av1", Q=90),
    Format.TIFF: lambda: scene(WIDTH, HEIGHT).tiffsave_buffer(compression="deflate"),
    Format.HEIC: lambda: _pillow("HEIF", quality=90),
    Format.BMP: lambda: _pillow("BMP"),
}
WEB_OUTPUTS = {Format.JPEG, Format.PNG, Format.WEBP, Format.AVIF}


def _decoded(data: bytes) -> pyvips.Image:
    return pyvips.Image.new_from_buffer(data, "")


@pytest.mark.parametrize("fmt", list(MAKERS))
def test_each_input_is_recognised_probed_and_becomes_a_web_format_that_reaches_the_floor(fmt: Format) -> None:
    data = MAKERS[fmt]()

    found = probe(data, limits=EngineLimits(), claimed_mime=fmt.mime)
    result = compress(data, options=BALANCED)

    assert sniff(data) is fmt
    assert (found.format, found.width, found.height) == (fmt, WIDTH, HEIGHT)
    assert result.format in WEB_OUTPUTS
    assert (result.width, result.height) == (WIDTH, HEIGHT)
    assert result.ssimulacra2 is not None and result.ssimulacra2 >= 80
    assert ssimulacra2(scene(WIDTH, HEIGHT), _decoded(result.data).colourspace("srgb")) >= 75
    if fmt is Format.AVIF:
        assert result.format is Format.AVIF and len(result.data) <= len(data)
    else:
        assert {tried.format for tried in result.candidates} == {"jpeg", "webp", "avif"}


def test_a_bmp_with_alpha_is_offered_as_png_not_jpeg() -> None:
    image = scene(WIDTH, HEIGHT)
    data = _pillow("BMP", image.bandjoin(255))  # 32-bit BMP

    result = compress(data, options=CompressOptions(compression_type=CompressionType.LOSSLESS))

    assert {tried.format for tried in result.candidates} == {"png", "webp", "avif"}
    decoded = _decoded(result.data)
    assert (decoded.extract_band(0, n=3) - image).abs().max() == 0


def test_a_bmp_whose_header_claims_too_many_pixels_is_refused_before_decoding() -> None:
    width = height = 50_000
    header = b"BM" + struct.pack("<IHHI", 54, 0, 0, 54)
    header += struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)

    with pytest.raises(InputTooLarge):
        probe(header, limits=EngineLimits(max_pixels=10_000_000))
    with pytest.raises(InputTooLarge):
        compress(header, options=BALANCED, limits=EngineLimits(max_pixels=10_000_000))


@pytest.mark.parametrize("fmt", [Format.HEIC, Format.AVIF, Format.TIFF])
def test_a_truncated_file_is_corrupt_not_a_crash(fmt: Format) -> None:
    data = MAKERS[fmt]()

    with pytest.raises(CorruptInput):
        compress(data[: len(data) // 2], options=BALANCED)
