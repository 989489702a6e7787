"""``CompressOptions.preserve`` in the engine: the EXIF groups asked for survive in every output format that
carries EXIF (JPEG, PNG, WebP, AVIF), the others do not, and the orientation stays applied."""

from __future__ import annotations

import io

import PIL.Image
import pytest
import pyvips

from compression.engine import CompressionType, CompressOptions, compress
from tests.compression.engine.test_quality_target import scene

COPYRIGHT, ARTIST, TAKEN, MAKE = "(c) 2026 Jane Roe", "Jane Roe", "2026:05:04 03:02:01", "Examplecam"


def photo_with_exif(orientation: int = 1) -> bytes:
    """A JPEG whose EXIF has a copyright, an author, a date taken, a camera and a GPS position."""
    exif = PIL.Image.Exif()
    exif[0x8298], exif[0x013B], exif[0x010F], exif[0x0110] = COPYRIGHT, ARTIST, MAKE, "Model 7"
    exif[0x0112] = orientation
    exif.get_ifd(0x8769)[0x9003] = TAKEN
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (48.0, 51.0, 30.0), "E", (2.0, 17.0, 40.0)
    buffer = io.BytesIO()
    PIL.Image.fromarray(scene(320, 240).numpy()).save(buffer, format="JPEG", quality=95, exif=exif)
    return buffer.getvalue()


def exif_fields(data: bytes) -> dict[str, str]:
    """libvips' parsed EXIF fields of an encoded image, by tag name (IFD number dropped)."""
    image = pyvips.Image.new_from_buffer(data, "")
    return {
        name.split("-", 2)[2]: str(image.get(name))
        for name in image.get_fields()
        if name.startswith("exif-ifd")
    }


@pytest.mark.parametrize("convert", [(), ("webp",), ("avif",)])
@pytest.mark.parametrize("kind", list(CompressionType))
def test_only_the_groups_asked_for_survive(convert: tuple[str, ...], kind: CompressionType) -> None:
    options = CompressOptions(
        compression_type=kind, convert=convert, preserve=frozenset({"location", "camera"})
    )

    kept = exif_fields(compress(photo_with_exif(), options=options).data)

    assert {"GPSLatitude", "GPSLongitude"} <= kept.keys()
    assert MAKE in kept["Make"]
    assert "Copyright" not in kept and "DateTimeOriginal" not in kept


def test_a_lossless_png_conversion_keeps_the_exif_asked_for() -> None:
    options = CompressOptions(
        compression_type=CompressionType.LOSSLESS, convert=("png",), preserve=frozenset({"copyright"})
    )

    kept = exif_fields(compress(photo_with_exif(), options=options).data)

    assert COPYRIGHT in kept["Copyright"] and "GPSLatitude" not in kept


def test_a_rotated_photo_is_upright_and_says_so_whatever_is_kept() -> None:
    options = CompressOptions(compression_type=CompressionType.LOSSY, preserve=frozenset({"copyright"}))

    result = compress(photo_with_exif(orientation=6), options=options)

    image = pyvips.Image.new_from_buffer(result.data, "")
    assert (image.width, image.height) == (240, 320)
    assert exif_fields(result.data).get("Orientation", "1").startswith("1")


@pytest.mark.parametrize("convert", [(), ("webp",), ("png",)])
def test_a_kept_orientation_leaves_the_pixels_as_stored_and_the_tag_on(convert: tuple[str, ...]) -> None:
    options = CompressOptions(
        compression_type=CompressionType.LOSSLESS if convert == ("png",) else CompressionType.BALANCED,
        convert=convert,
        preserve=frozenset({"orientation"}),
    )

    result = compress(photo_with_exif(orientation=6), options=options)

    image = pyvips.Image.new_from_buffer(result.data, "")
    assert (image.width, image.height) == (320, 240)
    assert exif_fields(result.data)["Orientation"].startswith("6")
    assert "Copyright" not in exif_fields(result.data)


def test_an_avif_is_upright_even_when_the_orientation_is_kept() -> None:
    options = CompressOptions(
        compression_type=CompressionType.BALANCED, convert=("avif",), preserve=frozenset({"orientation"})
    )

    result = compress(photo_with_exif(orientation=6), options=options)

    image = pyvips.Image.new_from_buffer(result.data, "")
    assert (image.width, image.height) == (240, 320)
