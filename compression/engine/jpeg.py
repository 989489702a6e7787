"""JPEG: mozjpeg through libvips (lossy), lossless transcode, and the balanced per-image search."""

import logging
import struct

import mozjpeg_lossless_optimization as mlo
import pyvips

from .decode import check_deadline, load, orientation, oriented_size, vips_errors, watch
from .errors import CorruptInput
from .formats import Format
from .limits import guard_raster
from .options import CompressionType, CompressOptions, EngineLimits, ResizeSpec
from .resize import resize_image, target_geometry
from .result import Result, finish
from .search import Candidate, search_setting

logger = logging.getLogger(__name__)

# mozjpeg settings (sharp's "mozjpeg" preset); progressive scans are kept only when smaller.
MOZJPEG = {
    "trellis_quant": True,
    "overshoot_deringing": True,
    "optimize_scans": True,
    "optimize_coding": True,
    "quant_table": 3,
}
# A resized image cannot be "lossless"; it is encoded at a quality that hides the encoding.
LOSSLESS_RESIZED_QUALITY = 95
# Balanced search: the range of mozjpeg qualities, and how the score moves per quality step
# (measured on photos around a score of 80).
BALANCED_FIRST_QUALITY = 80
BALANCED_QUALITY_RANGE = (40, 98)
BALANCED_SLOPE = 0.8
BALANCED_MAX_EVALS = 4
BALANCED_TOLERANCE = 2
_ICC_MARKER = b"ICC_PROFILE\x00"
_ICC_CHUNK_BYTES = 65519


def level_to_quality(level: int) -> int:
    """mozjpeg quality for a ``lossy`` level: the identity, so level 80 is sharp's default Q80."""
    return min(max(level, 1), 100)


def keep_flags(options: CompressOptions) -> str:
    return "icc" if options.strip_metadata else "all"


def mozjpeg_encode(
    image: pyvips.Image, quality: int, keep: str, deadline: float | None, *, progressive: bool = True
) -> bytes:
    with vips_errors(deadline):
        return watch(image, deadline).jpegsave_buffer(Q=quality, interlace=progressive, keep=keep, **MOZJPEG)


def _exif_orientation_segment(value: int) -> bytes:
    """A minimal APP1 EXIF segment holding only the orientation tag."""
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8) + struct.pack(">H", 1)
    tiff += struct.pack(">HHIHH", 0x0112, 3, 1, value, 0) + struct.pack(">I", 0)
    payload = b"Exif\x00\x00" + tiff
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def _after_app0(jpeg: bytes) -> int:
    """Offset just after SOI and a leading JFIF APP0 segment, where other APPn segments go."""
    pos = 2
    if jpeg[pos : pos + 2] == b"\xff\xe0":
        pos += 2 + struct.unpack(">H", jpeg[pos + 2 : pos + 4])[0]
    return pos


def insert_segments(jpeg: bytes, segments: bytes) -> bytes:
    pos = _after_app0(jpeg)
    return jpeg[:pos] + segments + jpeg[pos:]


def icc_segments(profile: bytes) -> bytes:
    chunks = [profile[i : i + _ICC_CHUNK_BYTES] for i in range(0, len(profile), _ICC_CHUNK_BYTES)]
    out = b""
    for index, chunk in enumerate(chunks, start=1):
        payload = _ICC_MARKER + bytes([index, len(chunks)]) + chunk
        out += b"\xff\xe2" + struct.pack(">H", len(payload) + 2) + payload
    return out


def lossless_transcode(data: bytes, options: CompressOptions, rotation: int) -> bytes:
    """Optimised Huffman tables and progressive scans, identical pixels; with ``strip_metadata``
    only the ICC profile survives, plus the orientation (pixels cannot be rotated losslessly here)."""
    copy = mlo.COPY_MARKERS.ICC if options.strip_metadata else mlo.COPY_MARKERS.ALL
    try:
        out = mlo.optimize(data, copy=copy)
    except ValueError:
        raise CorruptInput() from None
    if options.strip_metadata and rotation != 1:
        out = insert_segments(out, _exif_orientation_segment(rotation))
    return out


def prepare(image: pyvips.Image) -> pyvips.Image:
    """CMYK becomes sRGB through its profile (so re-encoding keeps the colours right); 16-bit or
    other formats become 8-bit."""
    if image.interpretation == "cmyk":
        image = image.icc_transform("srgb", embedded=True, input_profile="cmyk")
    if image.format != "uchar":
        image = image.colourspace("b-w" if image.bands < 3 else "srgb")
    return image


def compress_jpeg(
    data: bytes,
    *,
    options: CompressOptions,
    resize: ResizeSpec | None = None,
    limits: EngineLimits = EngineLimits(),  # noqa: B008 - frozen dataclass
    deadline: float | None = None,
) -> Result:
    guard_raster(data, Format.JPEG, limits)
    check_deadline(deadline)
    with vips_errors(deadline):
        head = pyvips.Image.new_from_buffer(data, "")
    size = oriented_size(head)
    resized = False
    if resize is not None:
        geometry = target_geometry(*size, resize)
        if geometry.changes(*size):
            image = resize_image(data, Format.JPEG, geometry, resize, deadline)
            resized = True
    if options.compression_type is CompressionType.LOSSLESS and not resized:
        return finish(
            data,
            lossless_transcode(data, options, orientation(head)),
            Format.JPEG,
            size,
            score=None,
            resized=False,
        )
    if not resized:
        image = load(data, Format.JPEG)
    image = prepare(image)
    keep = keep_flags(options)
    out_size = (image.width, image.height)
    if options.compression_type is CompressionType.LOSSY:
        out = mozjpeg_encode(image, level_to_quality(options.level), keep, deadline)
        return finish(data, out, Format.JPEG, out_size, score=None, resized=resized)
    if options.compression_type is CompressionType.LOSSLESS:
        out = mozjpeg_encode(image, LOSSLESS_RESIZED_QUALITY, keep, deadline)
        return finish(data, out, Format.JPEG, out_size, score=None, resized=resized)
    out, score = balanced(image, keep, deadline)
    return finish(data, out, Format.JPEG, out_size, score=score, resized=resized)


def balanced(image: pyvips.Image, keep: str, deadline: float | None) -> tuple[bytes, float]:
    """Smallest mozjpeg output scoring at least 80 against ``image`` at full resolution."""
    from .quality import Reference

    with vips_errors(deadline):
        image = image.copy_memory()
        reference = Reference(image)

    def evaluate(quality: int) -> Candidate:
        encoded = mozjpeg_encode(image, quality, keep, deadline)
        with vips_errors(deadline):
            decoded = pyvips.Image.new_from_buffer(encoded, "")
            score = reference.score(decoded)
        return Candidate(quality, encoded, score)

    best, tried = search_setting(
        evaluate,
        first=BALANCED_FIRST_QUALITY,
        low=BALANCED_QUALITY_RANGE[0],
        high=BALANCED_QUALITY_RANGE[1],
        slope=BALANCED_SLOPE,
        max_evals=BALANCED_MAX_EVALS,
        tolerance=BALANCED_TOLERANCE,
        deadline=deadline,
    )
    if best is None:
        best = max(tried, key=lambda c: c.score)
    # Progressive scans are usually smaller; small images sometimes do better as baseline.
    baseline = mozjpeg_encode(image, best.setting, keep, deadline, progressive=False)
    if len(baseline) < len(best.data):
        best = Candidate(best.setting, baseline, best.score)
    logger.debug("jpeg balanced: tried %s", [(c.setting, len(c.data), round(c.score, 1)) for c in tried])
    return best.data, best.score
