"""JPEG: mozjpeg through libvips (lossy), lossless transcode, and the balanced per-image search."""

import logging
import math
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

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
from .search import TARGET_SCORE, Candidate, SearchSpace

if TYPE_CHECKING:
    from .quality import Reference

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
BALANCED = SearchSpace(
    first=BALANCED_FIRST_QUALITY,
    low=BALANCED_QUALITY_RANGE[0],
    high=BALANCED_QUALITY_RANGE[1],
    slope=BALANCED_SLOPE,
    max_evals=BALANCED_MAX_EVALS,
    tolerance=BALANCED_TOLERANCE,
)
# Above PROXY_MIN_PIXELS balanced searches on a mosaic of PROXY_TILE squares (~PROXY_PIXELS), aiming
# PROXY_MARGIN above 80 (the mosaic scores up to ~1 point above the whole image on the corpus), then
# checks the winner at full resolution, at most PROXY_MAX_CHECKS times. Narrow images: no proxy.
PROXY_MIN_PIXELS = 1_200_000
PROXY_PIXELS = 420_000
PROXY_TILE = 128
PROXY_MARGIN = 1.5
PROXY_MAX_CHECKS = 3
# A check passing by this much is followed by a try at a lower quality (within PROXY_MAX_CHECKS).
PROXY_REFINE_ABOVE = 1.0
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

    Images above PROXY_MIN_PIXELS are searched on a proxy (see ``proxy_mosaic``) against a target
    PROXY_MARGIN above 80: encoder and quality are chosen there, and only the winner is encoded and
    scored at full resolution. If it scores under 80 its quality is raised by the measured gap and it
    is scored again (at most PROXY_MAX_CHECKS full-resolution scores in all, the last one at the top of
    the range), so the returned score is always a full-resolution one. Smaller images are searched at
    full resolution directly.
    A large ``random_access`` image is not copied into memory: every pass re-reads it.
    """
    from .quality import Reference

    with vips_errors(deadline):
        if not random_access or image.width * image.height <= LARGE_IMAGE_PIXELS:
            image = image.copy_memory()
    encoders = dict(_encoders(image, keep, deadline))
    if image.width * image.height <= PROXY_MIN_PIXELS or min(image.width, image.height) < 2 * PROXY_TILE:
        with vips_errors(deadline):
            reference = Reference(image)
        best, tried = _search_encoders(image, reference, keep, deadline, TARGET_SCORE)
        if best is None:
            best = max(tried, key=lambda c: c[1].score)
        return best[1].data, best[1].score

    with vips_errors(deadline):
        proxy = proxy_mosaic(image).copy_memory()
        proxy_reference = Reference(proxy)
    found, proxy_tried = _search_encoders(
        proxy, proxy_reference, keep, deadline, TARGET_SCORE + PROXY_MARGIN, proxy=True
    )
    # Encoders' sizes do not scale alike from the mosaic to the whole image: each encoder that passed
    # on the proxy is encoded at full resolution at its lowest passing quality, and the smallest is
    # the one checked.
    lowest: dict[str, int] = {}
    for name, candidate in proxy_tried:
        if candidate.score >= TARGET_SCORE + PROXY_MARGIN:
            lowest[name] = min(lowest.get(name, candidate.setting), candidate.setting)
    if not lowest:
        fallback = found or max(proxy_tried, key=lambda c: c[1].score)
        lowest[fallback[0]] = fallback[1].setting
    full = {name: encoders[name](quality) for name, quality in lowest.items()}
    name = min(full, key=lambda n: len(full[n]))
    quality, encoded = lowest[name], full[name]
    with vips_errors(deadline):
        reference = Reference(image)
    low, high = BALANCED_QUALITY_RANGE

    def check(quality: int, encoded: bytes) -> Candidate:
        check_deadline(deadline)
        with vips_errors(deadline):
            score = reference.score(pyvips.Image.new_from_buffer(encoded, ""))
        logger.debug(
            "jpeg balanced %s full-resolution check: q%d %d bytes %.1f", name, quality, len(encoded), score
        )
        return Candidate(quality, encoded, score)

    checked = [check(quality, encoded)]
    # Too low: raise by the measured gap, the last check at the top of the range.
    while checked[-1].score < TARGET_SCORE and quality < high and len(checked) < PROXY_MAX_CHECKS:
        if len(checked) == PROXY_MAX_CHECKS - 1:
            quality = high
        else:
            step = max(2, math.ceil((TARGET_SCORE + PROXY_MARGIN / 2 - checked[-1].score) / BALANCED_SLOPE))
            quality = min(high, quality + step)
        checked.append(check(quality, encoders[name](quality)))
    # Well above: lower by the measured surplus (never to a quality that failed), while checks are left.
    while len(checked) < PROXY_MAX_CHECKS:
        passing = [c for c in checked if c.score >= TARGET_SCORE]
        if not passing:
            break
        surplus = min(passing, key=lambda c: c.setting)
        if surplus.score < TARGET_SCORE + PROXY_REFINE_ABOVE:
            break
        failed = max((c.setting for c in checked if c.score < TARGET_SCORE), default=low - 1)
        lower = surplus.setting - max(1, math.floor((surplus.score - TARGET_SCORE - 0.25) / BALANCED_SLOPE))
        lower = max(lower, failed + 1, low)
        if lower >= surplus.setting:
            break
        checked.append(check(lower, encoders[name](lower)))
    passing = [c for c in checked if c.score >= TARGET_SCORE]
    chosen = min(passing, key=lambda c: len(c.data)) if passing else max(checked, key=lambda c: c.score)
    return chosen.data, chosen.score


def proxy_mosaic(image: pyvips.Image) -> pyvips.Image:
    """Evenly spaced PROXY_TILE-pixel squares of ``image``, on the 16-pixel JPEG block grid, joined
    into one image of about PROXY_PIXELS: unlike a downscale it keeps the image's own pixel scale, so a
    quality scores about the same on it as on the whole image (within ~1 point on the corpus)."""
    tile = PROXY_TILE
    side = max(1, math.isqrt(PROXY_PIXELS // (tile * tile)))
    cols = max(1, min(side, image.width // tile))
    rows = max(1, min(side, image.height // tile))
    xs = [(image.width - tile) * i // max(cols - 1, 1) // 16 * 16 for i in range(cols)]
    ys = [(image.height - tile) * j // max(rows - 1, 1) // 16 * 16 for j in range(rows)]
    return pyvips.Image.arrayjoin([image.crop(x, y, tile, tile) for y in ys for x in xs], across=cols)


def _search_encoders(
    image: pyvips.Image,
    reference: "Reference",
    keep: str,
    deadline: float | None,
    target: float,
    *,
    proxy: bool = False,
) -> tuple[tuple[str, Candidate] | None, list[tuple[str, Candidate]]]:
    """The smallest (encoder, candidate) scoring at least ``target`` against ``reference``, and every
    evaluation.

    jpegli (when it can carry the metadata) is searched first: it is usually smallest near a score of
    80. Every other encoder then gets one evaluation, at the largest quality whose output is still
    smaller than the best so far; only if that passes is it searched further down. So an encoder
    that loses costs one score, and a search never compares outputs of different scores.
    """

    def scored(setting: int, encoded: bytes) -> Candidate:
        with vips_errors(deadline):
            decoded = pyvips.Image.new_from_buffer(encoded, "")
            return Candidate(setting, encoded, reference.score(decoded))

    best: tuple[str, Candidate] | None = None
    tried: list[tuple[str, Candidate]] = []
    for name, encode in _encoders(image, keep, deadline, proxy=proxy):
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
            under = _largest_quality_under(cached, len(best[1].data), best[1].setting, deadline)
            if under is None:
                continue
            probe = scored(under, cached(under))
            tried.append((name, probe))
            logger.debug(
                "jpeg balanced %s probe: q%d %d bytes %.1f", name, under, len(probe.data), probe.score
            )
            if probe.score < target:
                continue
            first = under
        found, evaluations = BALANCED.search(
            lambda q, cached=cached: scored(q, cached(q)),  # type: ignore[misc]
            first=first,
            deadline=deadline,
            target=target,
        )
        tried += [(name, c) for c in evaluations]
        if found is not None and (best is None or len(found.data) < len(best[1].data)):
            best = (name, found)
        logger.debug(
            "jpeg balanced %s: %s", name, [(c.setting, len(c.data), round(c.score, 1)) for c in evaluations]
        )
    return best, tried


def _encoders(
    image: pyvips.Image, keep: str, deadline: float | None, *, proxy: bool = False
) -> list[tuple[str, Callable[[int], bytes]]]:
    """Candidate encoders for ``balanced``, the usual winner first. Very large images get mozjpeg
    alone: jpegli needs the whole image as one buffer, and every extra encoder costs a full-size
    encode and score."""
    pixels = image.width * image.height
    encoders: list[tuple[str, Callable[[int], bytes]]] = []
    if image.bands == 3 and keep == "icc" and pixels <= LARGE_IMAGE_PIXELS:
        profile = image.get("icc-profile-data") if image.get_typeof("icc-profile-data") else None
        encoders.append(("jpegli", lambda q: jpegli_encode(image, q, profile, deadline)))
    # A proxy is encoded progressive only: the baseline trial does not change the pixels or the score.
    moz = mozjpeg_encode if proxy else mozjpeg_best
    encoders.append(("mozjpeg", lambda q: moz(image, q, keep, deadline)))
    if image.bands >= 3 and pixels <= LARGE_IMAGE_PIXELS:
        encoders.append(("mozjpeg 4:4:4", lambda q: moz(image, q, keep, deadline, subsample="off")))
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
