import pytest
import pyvips

from compression.engine import (
    CompressionType,
    CompressOptions,
    CorruptInput,
    EngineLimits,
    Format,
    UnsupportedFormat,
    compress,
    probe,
    sniff,
)

LOSSLESS = CompressOptions(compression_type=CompressionType.LOSSLESS)
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="5" height="5"/></svg>'
PDF_HEAD = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"


def raster(suffix: str) -> bytes:
    return pyvips.Image.black(8, 8, bands=3).copy(interpretation="srgb").write_to_buffer(suffix)


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        (raster(".jpg"), Format.JPEG),
        (raster(".png"), Format.PNG),
        (raster(".gif"), Format.GIF),
        (raster(".webp"), Format.WEBP),
        (SVG, Format.SVG),
        (b'\xef\xbb\xbf<?xml version="1.0"?>\n<!-- drawn by hand -->\n' + SVG, Format.SVG),
        (PDF_HEAD, Format.PDF),
        (b"junk before the header\n" + PDF_HEAD, Format.PDF),
    ],
)
def test_sniff_recognises_formats_by_their_bytes(data: bytes, fmt: Format) -> None:
    assert sniff(data) is fmt
    assert sniff(data, fmt.mime) is fmt
    assert sniff(data, "application/octet-stream") is fmt


@pytest.mark.parametrize(
    "data",
    [
        b"BM" + b"\x00" * 60,  # "BM" without a BMP header
        b"\x00\x00\x00\x18ftypisom" + b"\x00" * 40,  # an MP4 video
        b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 40,  # a RIFF file that is not WebP
        b"<html><body>hello</body></html>",
        b"just some text",
        b"GIF00a" + b"\x00" * 20,
    ],
)
def test_wrong_magic_is_unsupported(data: bytes) -> None:
    with pytest.raises(UnsupportedFormat):
        sniff(data)
    with pytest.raises(UnsupportedFormat):
        compress(data, options=LOSSLESS)


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        (b"II*\x00" + b"\x00" * 60, Format.TIFF),
        (b"\x00\x00\x00\x18ftypheic" + b"\x00" * 40, Format.HEIC),
        (b"\x00\x00\x00\x18ftypavif" + b"\x00" * 40, Format.AVIF),
        (b"BM" + b"\x00" * 12 + (40).to_bytes(4, "little") + b"\x00" * 40, Format.BMP),
    ],
)
def test_a_known_header_without_an_image_is_corrupt(data: bytes, fmt: Format) -> None:
    assert sniff(data) is fmt
    with pytest.raises(CorruptInput):
        compress(data, options=LOSSLESS)


def test_zero_bytes_are_corrupt() -> None:
    with pytest.raises(CorruptInput):
        sniff(b"")
    with pytest.raises(CorruptInput):
        compress(b"", options=LOSSLESS)


HEADER_CUTS = [
    b"\x89PN",
    b"\x89PNG\r\n\x1a\n\x00\x00",
    b"GIF8",
    b"GIF89a\x01\x00",
    b"RIFF\x00\x00",
    b"\xff\xd8",
]


@pytest.mark.parametrize("cut", HEADER_CUTS)
def test_a_file_cut_inside_its_header_is_corrupt(cut: bytes) -> None:
    with pytest.raises(CorruptInput):
        compress(cut, options=LOSSLESS)


@pytest.mark.parametrize(
    ("data", "claimed"),
    [
        (raster(".png"), "image/jpeg"),
        (raster(".jpg"), "image/png"),
        (raster(".gif"), "image/webp"),
        (SVG, "image/png"),
        (PDF_HEAD, "image/gif"),
        (raster(".png"), "image/tiff"),
    ],
)
def test_a_claimed_type_that_does_not_match_the_bytes_is_unsupported(data: bytes, claimed: str) -> None:
    with pytest.raises(UnsupportedFormat):
        sniff(data, claimed)
    with pytest.raises(UnsupportedFormat):
        probe(data, limits=EngineLimits(), claimed_mime=claimed)


def test_claimed_type_parameters_and_aliases_are_accepted() -> None:
    assert sniff(raster(".jpg"), "image/jpg; charset=binary") is Format.JPEG
    assert sniff(raster(".png"), "IMAGE/X-PNG") is Format.PNG
