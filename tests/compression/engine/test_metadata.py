import numpy as np
import pytest
import pyvips

from compression.engine import CompressionType, CompressOptions, Format, compress

LOSSY = CompressOptions(compression_type=CompressionType.LOSSY, level=90)
LOSSLESS = CompressOptions(compression_type=CompressionType.LOSSLESS)
BALANCED = CompressOptions(compression_type=CompressionType.BALANCED)
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/">secret</x:xmpmeta>'
KEEP_ALL = CompressOptions(compression_type=CompressionType.LOSSY, level=90, strip_metadata=False)


def corners(width: int = 96, height: int = 64) -> pyvips.Image:
    """Every corner a different colour, so any wrong rotation or flip shows."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    rgb = np.stack([255 * x / width, 255 * y / height, np.full_like(x, 90.0)], axis=-1)
    return pyvips.Image.new_from_array(rgb.astype(np.uint8), interpretation="srgb")


def high_quality(suffix: str) -> dict[str, int]:
    """Sources saved at the highest quality, so that re-encoding them is smaller (else the engine
    rightly returns them unchanged)."""
    return {} if suffix == ".png" else {"Q": 100}


def with_orientation(image: pyvips.Image, orientation: int) -> pyvips.Image:
    image = image.copy()
    image.set_type(pyvips.GValue.gint_type, "orientation", orientation)
    return image


def decode(data: bytes) -> pyvips.Image:
    return pyvips.Image.new_from_buffer(data, "")


def orientation_of(image: pyvips.Image) -> int:
    return int(image.get("orientation")) if image.get_typeof("orientation") else 1


def mean_difference(a: pyvips.Image, b: pyvips.Image) -> float:
    return float((a.cast("float") - b.cast("float")).abs().avg())


@pytest.mark.parametrize(
    ("orientation", "suffix", "options"),
    [(o, ".jpg", LOSSY) for o in range(1, 9)]
    + [(o, ".png", LOSSLESS) for o in range(1, 9)]
    + [(o, ".jpg", BALANCED) for o in (2, 6, 7)],
)
def test_exif_orientation_is_applied_then_stripped(
    orientation: int, suffix: str, options: CompressOptions
) -> None:
    source = with_orientation(corners(), orientation).write_to_buffer(
        suffix, keep="all", **high_quality(suffix)
    )
    expected = decode(source).autorot()

    result = compress(source, options=options)

    output = decode(result.data)
    assert (output.width, output.height) == (expected.width, expected.height) == (result.width, result.height)
    assert mean_difference(output, expected) < 6
    assert orientation_of(output) == 1
    assert not output.get_typeof("exif-data")


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp"])
@pytest.mark.parametrize("options", [LOSSY, LOSSLESS, BALANCED], ids=["lossy", "lossless", "balanced"])
def test_the_icc_profile_is_kept_when_metadata_is_stripped(suffix: str, options: CompressOptions) -> None:
    image = corners(160, 120).icc_transform("p3", input_profile="srgb")
    profile = image.get("icc-profile-data")
    source = image.write_to_buffer(suffix, keep="all", **high_quality(suffix))

    result = compress(source, options=options)

    output = decode(result.data)
    assert output.get_typeof("icc-profile-data")
    assert output.get("icc-profile-data") == profile


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp"])
def test_exif_and_xmp_are_dropped_unless_asked_to_keep_them(suffix: str) -> None:
    image = corners(160, 120).copy()
    image.set_type(pyvips.GValue.blob_type, "xmp-data", XMP)
    source = image.write_to_buffer(suffix, keep="all", **high_quality(suffix))

    stripped = decode(compress(source, options=LOSSY).data)
    kept = decode(compress(source, options=KEEP_ALL).data)

    assert not stripped.get_typeof("xmp-data")
    assert kept.get_typeof("xmp-data")


@pytest.mark.parametrize("options", [LOSSY, BALANCED, LOSSLESS], ids=["lossy", "balanced", "lossless"])
def test_a_cmyk_jpeg_keeps_its_colours(options: CompressOptions) -> None:
    srgb = corners(160, 120)
    source = srgb.icc_transform("cmyk", input_profile="srgb").jpegsave_buffer(Q=95, keep="all")
    expected = decode(source).icc_transform("srgb", embedded=True, input_profile="cmyk")

    result = compress(source, options=options)

    output = decode(result.data)
    assert result.format is Format.JPEG
    if output.interpretation == "cmyk":
        output = output.icc_transform("srgb", embedded=True, input_profile="cmyk")
    assert (output.width, output.height, output.bands) == (160, 120, 3)
    assert mean_difference(output, expected) < 4
