"""Guards that run before any pixel is decoded, and the process-wide libvips hardening.

Every check here reads headers only: a PNG declaring 50000x50000 or a GIF with 5000 frames is
refused without allocating its pixels.
"""

import struct

import pyvips

from .errors import CorruptInput, InputTooLarge
from .formats import PNG_SIGNATURE, Format
from .options import EngineLimits

# Loaders we accept; everything else (raw, matrix, vips, FITS, ...) is blocked at import. Every input
# reaches libvips only after ``sniff`` named its format from its magic bytes.
ALLOWED_LOADERS = (
    "VipsForeignLoadJpeg",
    "VipsForeignLoadPng",
    "VipsForeignLoadNsgif",
    "VipsForeignLoadWebp",
    # The SVG module may render documents (after sanitising them) to compare them.
    "VipsForeignLoadSvg",
    # AVIF inputs, and AVIF outputs (``convert``) decoded to score them. HEIC (HEVC) is not in this
    # libheif: ``foreign.py`` decodes it, after ``sniff`` told the two apart by their brands.
    "VipsForeignLoadHeif",
    # TIFF inputs, and the uncompressed TIFF that ``foreign.py`` hands HEIC and BMP pixels on in.
    "VipsForeignLoadTiff",
)


def harden_vips() -> None:
    """Block libvips operations flagged untrusted and every loader outside ALLOWED_LOADERS."""
    pyvips.block_untrusted_set(True)
    pyvips.operation_block_set("VipsForeignLoad", True)
    for name in ALLOWED_LOADERS:
        pyvips.operation_block_set(name, False)


harden_vips()


def check_bytes(data: bytes, limits: EngineLimits) -> None:
    if len(data) > limits.max_input_bytes:
        raise InputTooLarge(f"The file is larger than {limits.max_input_bytes} bytes.")


def check_pixels(width: int, height: int, limits: EngineLimits) -> None:
    if width <= 0 or height <= 0:
        raise CorruptInput("The image has no pixels.")
    if width * height > limits.max_pixels:
        raise InputTooLarge(f"The image has more than {limits.max_pixels} pixels per frame.")


def check_frames(frames: int, limits: EngineLimits) -> None:
    if frames > limits.max_frames:
        raise InputTooLarge(f"The image has more than {limits.max_frames} frames.")


def png_header(data: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which the PNG spec requires to come first."""
    if len(data) < len(PNG_SIGNATURE) + 25 or data[12:16] != b"IHDR":
        raise CorruptInput()
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def sub_blocks_end(data: bytes, pos: int) -> int | None:
    """Where the GIF sub-blocks starting at ``pos`` end (after their terminator); None when the data
    ends first."""
    while pos < len(data):
        size = data[pos]
        pos += 1 + size
        if size == 0:
            return pos
    return None


def _skip_sub_blocks(data: bytes, pos: int) -> int:
    end = sub_blocks_end(data, pos)
    if end is None:
        raise CorruptInput()
    return end


def gif_header(data: bytes, limits: EngineLimits) -> tuple[int, int, int]:
    """(screen width, screen height, frames), walking the block structure without decoding LZW
    data; stops as soon as the frame limit or a per-frame pixel limit is exceeded."""
    if len(data) < 13:
        raise CorruptInput()
    width, height, flags = struct.unpack("<HHB", data[6:11])
    check_pixels(width, height, limits)
    pos = 13
    if flags & 0x80:
        pos += 3 * (2 ** ((flags & 0x07) + 1))
    frames = 0
    while pos < len(data):
        block = data[pos]
        if block == 0x3B:  # trailer
            break
        if block == 0x21:  # extension: label then sub-blocks
            pos = _skip_sub_blocks(data, pos + 2)
        elif block == 0x2C:  # image descriptor
            if pos + 10 > len(data):
                raise CorruptInput()
            frame_w, frame_h, frame_flags = struct.unpack("<HHB", data[pos + 5 : pos + 10])
            check_pixels(max(frame_w, 1), max(frame_h, 1), limits)
            frames += 1
            check_frames(frames, limits)
            pos += 10
            if frame_flags & 0x80:
                pos += 3 * (2 ** ((frame_flags & 0x07) + 1))
            pos = _skip_sub_blocks(data, pos + 1)  # skip LZW minimum code size
        else:
            raise CorruptInput()
    if frames == 0:
        raise CorruptInput()
    return width, height, frames


def webp_header(data: bytes, limits: EngineLimits) -> tuple[int, int, int]:
    """(canvas width, canvas height, frames) from the RIFF chunks."""
    pos = 12
    width = height = 0
    frames = 0
    end = min(len(data), 8 + struct.unpack("<I", data[4:8])[0])
    while pos + 8 <= end:
        fourcc = data[pos : pos + 4]
        size = struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        body = data[pos + 8 : pos + 8 + min(size, 30)]
        if fourcc == b"VP8X" and len(body) >= 10:
            width = 1 + int.from_bytes(body[4:7], "little")
            height = 1 + int.from_bytes(body[7:10], "little")
        elif fourcc == b"VP8 " and len(body) >= 10:
            frames = max(frames, 1)
            if not width:  # a simple file; with VP8X, the canvas size came first
                width = struct.unpack("<H", body[6:8])[0] & 0x3FFF
                height = struct.unpack("<H", body[8:10])[0] & 0x3FFF
        elif fourcc == b"VP8L" and len(body) >= 5:
            frames = max(frames, 1)
            if not width:
                bits = int.from_bytes(body[1:5], "little")
                width = (bits & 0x3FFF) + 1
                height = ((bits >> 14) & 0x3FFF) + 1
        elif fourcc == b"ANMF":
            frames += 1
            check_frames(frames, limits)
        pos += 8 + size + (size & 1)
    if not width or not height or not frames:
        raise CorruptInput()
    check_pixels(width, height, limits)
    return width, height, frames


def guard_raster(data: bytes, fmt: Format, limits: EngineLimits) -> None:
    """Refuse a raster input whose size, pixels or frames exceed the limits (headers only)."""
    check_bytes(data, limits)
    if fmt is Format.PNG:
        check_pixels(*png_header(data), limits)
    elif fmt is Format.GIF:
        gif_header(data, limits)
    elif fmt is Format.WEBP:
        webp_header(data, limits)
    elif fmt in (Format.JPEG, Format.AVIF, Format.TIFF):
        try:
            image = pyvips.Image.new_from_buffer(data, "")
        except pyvips.Error:
            raise CorruptInput() from None
        check_pixels(image.width, image.height, limits)
