"""JPEG: mozjpeg through libvips (lossy), lossless transcode, and the balanced per-image search."""

import logging
import struct
from collections.abc import Callable

import mozjpeg_lossless_optimization as mlo
import pyjpegli
import pyvips

from .decode import check_deadline, load, orientation, oriented_size, vips_errors, watch
from .errors import CorruptInput
from .formats import Format
from .limits import guard_raster
from .options import CompressionType, CompressOptions, EngineLimits, ResizeSpec
from .resize import resize_image, target_geometry
from .result import Result, finish
from .search import TARGET_SCORE, Candidate, search_setting

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
BALANCED_QUALITY_RANGE = (30, 98)
BALANCED_SLOPE = 0.65
BALANCED_MAX_EVALS = 4
BALANCED_TOLERANCE = 1
# jpegli takes the whole image as one packed RGB buffer (3 bytes/px); above this size balanced
# uses mozjpeg only (see _encoders).
LARGE_IMAGE_PIXELS = 40_000_000
# Trying a baseline encode next to the progressive one is only worth it for small images.
BASELINE_TRIAL_MAX_PIXELS = 1_000_000
# Quality step used to bracket an output size before bisecting.
BRACKET_STEP = 4
_ICC_MARKER = b"ICC_PROFILE\x00"
_ICC_CHUNK_BYTES = 65519


def level_to_quality(level: int) -> int:
    """mozjpeg quality for a ``lossy`` level: the identity, so level 80 is sharp's default Q80."""
    return min(max(level, 1), 100)


def keep_flags(options: CompressOptions) -> str:
    return "icc" if options.strip_metadata else "all"


def mozjpeg_encode(
    image: pyvips.Image,
    quality: int,
    keep: str,
    deadline: float | None,
    *,
    progressive: bool = True,
    subsample: str = "auto",
) -> bytes:
    settings = dict(MOZJPEG, optimize_scans=progressive)
    with vips_errors(deadline):
        return watch(image, deadline).jpegsave_buffer(
            Q=quality, interlace=progressive, keep=keep, subsample_mode=subsample, **settings
        )


def mozjpeg_best(
    image: pyvips.Image, quality: int, keep: str, deadline: float | None, *, subsample: str = "auto"
) -> bytes:
    """Progressive scans, or baseline where that is smaller (some small images); same pixels."""
    if image.width * image.height > BASELINE_TRIAL_MAX_PIXELS:
        return mozjpeg_encode(image, quality, keep, deadline, subsample=subsample)
    with vips_errors(deadline):
        image = image.copy_memory()  # encoded twice: a sequential source can be read only once
    progressive = mozjpeg_encode(image, quality, keep, deadline, subsample=subsample)
    baseline = mozjpeg_encode(image, quality, keep, deadline, progressive=False, subsample=subsample)
    return baseline if len(baseline) < len(progressive) else progressive


def jpegli_encode(image: pyvips.Image, quality: int, profile: bytes | None, deadline: float | None) -> bytes:
    """jpegli (8-bit sRGB in), then a lossless pass for optimised Huffman tables and progressive
    scans; the ICC profile is carried over."""
    check_deadline(deadline)
    with vips_errors(deadline):
        pixels = image.write_to_memory()
    encoded = mlo.optimize(pyjpegli.encode(pixels, image.width, image.height, quality=quality))
    return insert_segments(encoded, icc_segments(profile)) if profile else encoded


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
        # balanced reads the image many times: random access (libvips keeps a large decode on disk).
        image = load(data, Format.JPEG, sequential=options.compression_type is not CompressionType.BALANCED)
    image = prepare(image)
    keep = keep_flags(options)
    out_size = (image.width, image.height)
    if options.compression_type is CompressionType.LOSSY:
        out = mozjpeg_best(image, level_to_quality(options.level), keep, deadline)
        return finish(data, out, Format.JPEG, out_size, score=None, resized=resized)
    if options.compression_type is CompressionType.LOSSLESS:
        out = mozjpeg_encode(image, LOSSLESS_RESIZED_QUALITY, keep, deadline)
        return finish(data, out, Format.JPEG, out_size, score=None, resized=resized)
    out, score = balanced(image, keep, deadline, random_access=not resized)
    return finish(data, out, Format.JPEG, out_size, score=score, resized=resized)


def balanced(
    image: pyvips.Image, keep: str, deadline: float | None, *, random_access: bool = False
) -> tuple[bytes, float]:
    """Smallest output scoring at least 80 against ``image`` at full resolution, across encoders.

    jpegli (when it can carry the metadata) is searched first: it is usually smallest near a score of
    80. Every other encoder then gets one evaluation, at the largest quality whose output is still
    smaller than the best so far; only if that passes is it searched further down. So an encoder
    that loses costs one score, and a search never compares outputs of different scores.
    A large ``random_access`` image is not copied into memory: every pass re-reads it.
    """
    from .quality import Reference

    with vips_errors(deadline):
        if not random_access or image.width * image.height <= LARGE_IMAGE_PIXELS:
            image = image.copy_memory()
        reference = Reference(image)

    def scored(setting: int, encoded: bytes) -> Candidate:
        with vips_errors(deadline):
            decoded = pyvips.Image.new_from_buffer(encoded, "")
            return Candidate(setting, encoded, reference.score(decoded))

    encoders = _encoders(image, keep, deadline)
    best: Candidate | None = None
    tried: list[Candidate] = []
    for name, encode in encoders:
        cache: dict[int, bytes] = {}

        def cached(
            quality: int, encode: Callable[[int], bytes] = encode, cache: dict[int, bytes] = cache
        ) -> bytes:
            if quality not in cache:
                cache[quality] = encode(quality)
            return cache[quality]

        if best is None:
            first = BALANCED_FIRST_QUALITY
        else:
            under = _largest_quality_under(cached, len(best.data), best.setting, deadline)
            if under is None:
                continue
            probe = scored(under, cached(under))
            tried.append(probe)
            logger.debug(
                "jpeg balanced %s probe: q%d %d bytes %.1f", name, under, len(probe.data), probe.score
            )
            if probe.score < TARGET_SCORE:
                continue
            first = under
        found, evaluations = search_setting(
            lambda q, cached=cached: scored(q, cached(q)),  # type: ignore[misc]
            first=first,
            low=BALANCED_QUALITY_RANGE[0],
            high=BALANCED_QUALITY_RANGE[1],
            slope=BALANCED_SLOPE,
            max_evals=BALANCED_MAX_EVALS,
            tolerance=BALANCED_TOLERANCE,
            deadline=deadline,
        )
        tried += evaluations
        if found is not None and (best is None or len(found.data) < len(best.data)):
            best = found
        logger.debug(
            "jpeg balanced %s: %s", name, [(c.setting, len(c.data), round(c.score, 1)) for c in evaluations]
        )
    if best is None:
        best = max(tried, key=lambda c: c.score)
    return best.data, best.score


def _encoders(
    image: pyvips.Image, keep: str, deadline: float | None
) -> list[tuple[str, Callable[[int], bytes]]]:
    """Candidate encoders for ``balanced``, the usual winner first. Very large images get mozjpeg
    alone: jpegli needs the whole image as one buffer, and every extra encoder costs a full-size
    encode and score."""
    pixels = image.width * image.height
    encoders: list[tuple[str, Callable[[int], bytes]]] = []
    if image.bands == 3 and keep == "icc" and pixels <= LARGE_IMAGE_PIXELS:
        profile = image.get("icc-profile-data") if image.get_typeof("icc-profile-data") else None
        encoders.append(("jpegli", lambda q: jpegli_encode(image, q, profile, deadline)))
    encoders.append(("mozjpeg", lambda q: mozjpeg_best(image, q, keep, deadline)))
    if image.bands >= 3 and pixels <= LARGE_IMAGE_PIXELS:
        encoders.append(("mozjpeg 4:4:4", lambda q: mozjpeg_best(image, q, keep, deadline, subsample="off")))
    return encoders


def _largest_quality_under(
    encode: Callable[[int], bytes], size: int, hint: int, deadline: float | None
) -> int | None:
    """The largest quality in range whose output is smaller than ``size`` bytes (None if even the
    lowest is not): bracketed by doubling steps from ``hint``, then bisected (sizes grow with quality)."""
    low, high = BALANCED_QUALITY_RANGE
    quality = min(max(hint, low), high)
    step = BRACKET_STEP
    if len(encode(quality)) < size:
        below, above = quality, high + 1
        while quality < high:
            check_deadline(deadline)
            quality = min(quality + step, high)
            step *= 2
            if len(encode(quality)) >= size:
                above = quality
                break
            below = quality
    else:
        below, above = low - 1, quality
        while quality > low:
            check_deadline(deadline)
            quality = max(quality - step, low)
            step *= 2
            if len(encode(quality)) < size:
                below = quality
                break
            above = quality
        if below < low:
            return None
    while above - below > 1:
        check_deadline(deadline)
        mid = (below + above) // 2
        if len(encode(mid)) < size:
            below = mid
        else:
            above = mid
    return below
