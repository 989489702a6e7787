import pytest
import pyvips

from compression.engine import (
    CompressionType,
    CompressOptions,
    CorruptInput,
    EngineLimits,
    Format,
    InputTooLarge,
    UnsupportedFormat,
    compress,
    probe,
)
from compression.engine.pipeline import TIME_WARNING

LOSSY = CompressOptions(compression_type=CompressionType.LOSSY, level=60)


def jpeg_bytes(width: int = 120, height: int = 80, orientation: int = 1) -> bytes:
    image = (
        (pyvips.Image.xyz(width, height)[0] * 2).cast("uchar").bandjoin([64, 128]).copy(interpretation="srgb")
    )
    if orientation != 1:
        image = image.copy()
        image.set_type(pyvips.GValue.gint_type, "orientation", orientation)
    return image.jpegsave_buffer(Q=95)


def test_compress_dispatches_jpeg_and_keeps_the_format() -> None:
    result = compress(jpeg_bytes(), options=LOSSY)

    assert result.format is Format.JPEG
    assert pyvips.Image.new_from_buffer(result.data, "").get("vips-loader") == "jpegload_buffer"
    assert (result.width, result.height) == (120, 80)


@pytest.mark.parametrize("data", [b"", b"\xff\xd8"])
def test_compress_rejects_empty_and_truncated_input(data: bytes) -> None:
    with pytest.raises(CorruptInput):
        compress(data, options=LOSSY)


def test_compress_rejects_a_truncated_jpeg_body() -> None:
    data = jpeg_bytes(400, 300)

    with pytest.raises(CorruptInput):
        compress(data[: len(data) // 2], options=LOSSY)


@pytest.mark.parametrize("data", [b"GIF00a" + b"\x00" * 40, b"BM" + b"\x00" * 60, b"hello world, plain text"])
def test_compress_rejects_unknown_formats(data: bytes) -> None:
    with pytest.raises(UnsupportedFormat):
        compress(data, options=LOSSY)


def test_probe_rejects_a_claimed_type_that_does_not_match() -> None:
    with pytest.raises(UnsupportedFormat):
        probe(jpeg_bytes(), limits=EngineLimits(), claimed_mime="image/png")


def test_probe_reports_the_displayed_size_after_orientation() -> None:
    info = probe(jpeg_bytes(120, 80, orientation=6), limits=EngineLimits())

    assert (info.format, info.width, info.height, info.frames, info.pages) == (Format.JPEG, 80, 120, 1, 1)


def test_limits_are_checked_before_decoding() -> None:
    data = jpeg_bytes(120, 80)

    with pytest.raises(InputTooLarge):
        compress(data, options=LOSSY, limits=EngineLimits(max_input_bytes=len(data) - 1))
    with pytest.raises(InputTooLarge):
        compress(data, options=LOSSY, limits=EngineLimits(max_pixels=120 * 80 - 1))
    with pytest.raises(InputTooLarge):
        probe(data, limits=EngineLimits(max_pixels=120 * 80 - 1))


def test_compress_past_its_deadline_hands_back_the_input_instead_of_failing() -> None:
    data = jpeg_bytes()

    result = compress(data, options=LOSSY, deadline=0.0)

    assert result.unchanged and result.data == data
    assert result.warning == TIME_WARNING
