"""Inputs that the libvips of ``pyvips-binary`` cannot read: HEIC/HEIF (HEVC, decoded by pillow-heif's
libde265) and BMP (Pillow). Their headers give the size checked against the limits before any pixel is
decoded; the decoded pixels (the primary image, its rotation and mirroring applied, the ICC profile kept)
are then handed to the raster step as an uncompressed TIFF, which libvips reads without decoding again.
"""

import io
import logging
import warnings

import numpy as np
import PIL.Image
import pillow_heif
import pyvips

from .errors import CorruptInput
from .formats import Format
from .limits import check_pixels
from .options import EngineLimits

logger = logging.getLogger(__name__)

FOREIGN_FORMATS = (Format.HEIC, Format.BMP)
_PILLOW_FORMATS = {Format.HEIC: ["HEIF"], Format.BMP: ["BMP", "DIB"]}
pillow_heif.register_heif_opener()  # HEIF/HEIC in Pillow, 16-bit converted to 8-bit
# Pillow's own decompression-bomb guard is replaced by ``EngineLimits`` (checked before decoding).
PIL.Image.MAX_IMAGE_PIXELS = None
_MODES = {"1": "L", "P": "RGBA", "PA": "RGBA", "LA": "LA", "L": "L", "RGB": "RGB", "RGBA": "RGBA"}


def _open(data: bytes, fmt: Format) -> PIL.Image.Image:
    """The image, header read, pixels not decoded yet."""
    try:
        return PIL.Image.open(io.BytesIO(data), formats=_PILLOW_FORMATS[fmt])
    except (OSError, ValueError, SyntaxError, RuntimeError) as error:
        logger.info("%s refused by its decoder: %s", fmt.value, error)
        raise CorruptInput() from None


def foreign_size(data: bytes, fmt: Format) -> tuple[int, int]:
    """Width and height from the header alone."""
    return _open(data, fmt).size


def to_tiff(data: bytes, fmt: Format, limits: EngineLimits) -> tuple[bytes, bytes | None]:
    """The decoded pixels as an uncompressed TIFF, after the pixel limit is checked on the header, and
    the file's EXIF block (which the TIFF does not carry)."""
    image = _open(data, fmt)
    check_pixels(*image.size, limits)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image.load()
        icc = image.info.get("icc_profile")
        exif = image.info.get("exif") or None
        mode = _MODES.get(image.mode, "RGBA" if "A" in image.getbands() else "RGB")
        pixels = np.asarray(image.convert(mode))
    except (OSError, ValueError, SyntaxError, RuntimeError) as error:
        logger.info("%s does not decode: %s", fmt.value, error)
        raise CorruptInput() from None
    bands = 1 if pixels.ndim == 2 else pixels.shape[2]
    interpretation = "b-w" if bands <= 2 else "srgb"
    vips = pyvips.Image.new_from_memory(pixels.tobytes(), pixels.shape[1], pixels.shape[0], bands, "uchar")
    vips = vips.copy(interpretation=interpretation)
    if icc:
        vips.set_type(pyvips.GValue.blob_type, "icc-profile-data", icc)
    return vips.tiffsave_buffer(compression="none"), exif
