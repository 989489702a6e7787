import struct
import zlib
from pathlib import Path

import pytest
import pyvips

from compression.engine import (
    CompressionType,
    CompressOptions,
    CorruptInput,
    EngineLimits,
    InputTooLarge,
    compress,
    probe,
)

FILES = Path(__file__).parent / "files"
LOSSLESS = CompressOptions(compression_type=CompressionType.LOSSLESS)


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_declaring(width: int, height: int) -> bytes:
    """A valid-looking PNG header (with CRCs) over almost no data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 100))
        + chunk(b"IEND", b"")
    )


def gif_declaring(width: int, height: int) -> bytes:
    head = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    return head + b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x4c\x01\x00\x3b"


def webp_declaring(width: int, height: int) -> bytes:
    """An extended WebP whose VP8X canvas is width x height over a 1x1 lossless frame."""
    vp8x = struct.pack("<I", 0) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    frame = pyvips.Image.black(1, 1, bands=3).webpsave_buffer(lossless=True)
    vp8l = frame[frame.index(b"VP8L") :]
    body = b"WEBP" + b"VP8X" + struct.pack("<I", len(vp8x)) + vp8x + vp8l
    return b"RIFF" + struct.pack("<I", len(body)) + body


def test_the_committed_pixel_bomb_is_refused_before_decoding() -> None:
    data = (FILES / "pixel-bomb-50000x50000.png").read_bytes()

    assert len(data) < 100
    with pytest.raises(InputTooLarge):
        compress(data, options=LOSSLESS)
    with pytest.raises(InputTooLarge):
        probe(data, limits=EngineLimits())


@pytest.mark.parametrize("build", [png_declaring, gif_declaring, webp_declaring])
def test_declared_dimensions_above_the_pixel_limit_are_refused(build) -> None:  # type: ignore[no-untyped-def]
    data = build(50000, 50000) if build is not gif_declaring else build(60000, 60000)

    with pytest.raises(InputTooLarge):
        compress(data, options=LOSSLESS)


@pytest.mark.parametrize("fmt", ["png", "gif", "webp", "jpg"])
def test_the_pixel_limit_is_a_parameter(fmt: str) -> None:
    data = pyvips.Image.black(300, 200, bands=3).copy(interpretation="srgb").write_to_buffer(f".{fmt}")

    with pytest.raises(InputTooLarge):
        probe(data, limits=EngineLimits(max_pixels=300 * 200 - 1))
    with pytest.raises(InputTooLarge):
        compress(data, options=LOSSLESS, limits=EngineLimits(max_pixels=300 * 200 - 1))
    assert probe(data, limits=EngineLimits(max_pixels=300 * 200)).width == 300


def test_the_frame_limit_is_a_parameter() -> None:
    head = b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    data = head + (b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x4c\x01\x00") * 11 + b"\x3b"

    with pytest.raises(InputTooLarge):
        compress(data, options=LOSSLESS, limits=EngineLimits(max_frames=10))
    assert probe(data, limits=EngineLimits(max_frames=11)).frames == 11


def test_the_byte_limit_is_checked_first() -> None:
    data = (FILES / "pixel-bomb-50000x50000.png").read_bytes()

    with pytest.raises(InputTooLarge, match="larger than 10 bytes"):
        compress(data, options=LOSSLESS, limits=EngineLimits(max_input_bytes=10))


@pytest.mark.parametrize("fmt", ["png", "gif", "webp"])
def test_truncated_files_are_corrupt(fmt: str) -> None:
    image = pyvips.Image.xyz(120, 90)[0].cast("uchar").bandjoin([40, 90]).copy(interpretation="srgb")
    data = image.write_to_buffer(f".{fmt}")

    with pytest.raises(CorruptInput):
        compress(data[: len(data) * 2 // 3], options=LOSSLESS)


def test_the_committed_truncated_png_is_corrupt() -> None:
    with pytest.raises(CorruptInput):
        compress((FILES / "truncated.png").read_bytes(), options=LOSSLESS)
