"""JPEG: mozjpeg through libvips (lossy), lossless transcode, and the balanced per-image search."""

import logging
import math
import struct
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import mozjpeg_lossless_optimization as mlo
import pyjpegli
import pyvips

from .decode import check_deadline, load, vips_errors, watch
from .errors import CorruptInput, DeadlineExceeded
from .formats import Format
from .jpeg_quality import MAX_QUALITY, estimate_quality
from .metadata import exif_block, jpeg_keep, jpeg_with_exif
from .options import CompressionType, CompressOptions
from .raster import Raster
from .result import Result, finish, largest_within
from .search import (
    TARGET_SCORE,
    Candidate,
    Point,
    SearchHint,
    SearchSpace,
    hint_for,
    model_guess,
    search_deadline,
)

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
# Balanced search: the range of qualities, and how the score moves per quality step (measured on
# photos around a score of 80); a pass by less than half a step is not searched below.
# Guided by a model (the proxy's points, or a hint), a pass is final when the model puts the quality
# below it more than model_stop under 80.
BALANCED = SearchSpace(
    first=80, low=30, high=98, slope=0.65, max_evals=5, tolerance=1, close_enough=0.3, model_stop=0.2
)
# Above PROXY_MIN_PIXELS the first guess comes from the same search on a mosaic of PROXY_TILE
# squares (~PROXY_PIXELS); narrow images get no proxy. The full-resolution search starts at the
# lowest quality whose proxy score plus PROXY_OFFSET (the full-resolution score minus the proxy's,
# typical on photos) reaches 80, and steps along the proxy's curve.
PROXY_MIN_PIXELS = 1_200_000
PROXY_PIXELS = 420_000
PROXY_TILE = 128
PROXY_OFFSET = -0.3
# The proxy's points only shape the full-resolution search: a few are enough.
PROXY_MAX_EVALS = 3
# jpegli takes the whole image as one packed RGB buffer (3 bytes/px); above this size balanced
# uses mozjpeg (see _search_encoder).
LARGE_IMAGE_PIXELS = 40_000_000
# Trying a baseline encode next to the progressive one is only worth it for small images.
BASELINE_TRIAL_MAX_PIXELS = 1_000_000
_ICC_MARKER = b"ICC_PROFILE\x00"
_ICC_CHUNK_BYTES = 65519


def level_to_quality(level: int) -> int:
    """mozjpeg quality for a ``lossy`` level: the identity, so level 80 is sharp's default Q80."""
    return min(max(level, 1), 100)


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
    """jpegli (8-bit sRGB in, baseline out; see ``_finish_scan``), carrying the ICC profile over."""
    check_deadline(deadline)
    with vips_errors(deadline):
        pixels = image.write_to_memory()
    encoded = pyjpegli.encode(pixels, image.width, image.height, quality=quality)
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


def lossless_transcode(data: bytes, options: CompressOptions, rotation: int, head: pyvips.Image) -> bytes:
    """Optimised Huffman tables and progressive scans, identical pixels; with ``strip_metadata``
    only what ``options.preserve`` keeps survives, plus the orientation (pixels cannot be rotated
    losslessly here)."""
    copy = {"all": mlo.COPY_MARKERS.ALL, "icc": mlo.COPY_MARKERS.ICC}.get(
        jpeg_keep(options), mlo.COPY_MARKERS.NONE
    )
    try:
        out = mlo.optimize(data, copy=copy)
    except ValueError:
        raise CorruptInput() from None
    if not options.strip_metadata:
        return out
    block = exif_block(head, options, orientation=rotation)
    if block is not None:
        return jpeg_with_exif(out, block)
    if rotation != 1:
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


def compress_jpeg(raster: Raster, options: CompressOptions, deadline: float | None) -> Result:
    data, size, resized = raster.data, raster.size, raster.resized
    if options.compression_type is CompressionType.LOSSLESS and not resized:
        out = lossless_transcode(data, options, raster.orientation, raster.head)
        return finish(data, out, Format.JPEG, size, score=None, resized=False)
    # balanced reads the image many times: random access (libvips keeps a large decode on disk).
    pixels = raster.pixels(deadline, sequential=options.compression_type is not CompressionType.BALANCED)
    image = prepare(pixels)
    if resized and image is not pixels:
        with vips_errors(deadline):
            image = image.copy_memory()  # may be encoded again (see ``smaller``)
    keep = jpeg_keep(options)
    block = exif_block(raster.head, options, raster.stored_orientation)
    out_size = (image.width, image.height)
    # Never finer than the source: a higher quality only spends bytes on its artefacts.
    cap = estimate_quality(data) or MAX_QUALITY
    kind = options.compression_type
    quality = min(
        level_to_quality(options.level) if kind is CompressionType.LOSSY else LOSSLESS_RESIZED_QUALITY, cap
    )

    def smaller(limit: int) -> bytes | None:
        return largest_within(limit, lambda q: mozjpeg_best(image, q, keep, deadline), 1, quality - 1)

    if kind is not CompressionType.BALANCED:
        out = (
            mozjpeg_best(image, quality, keep, deadline)
            if kind is CompressionType.LOSSY
            else mozjpeg_encode(image, quality, keep, deadline)
        )
        out = jpeg_with_exif(out, block)
        return finish(data, out, Format.JPEG, out_size, score=None, resized=resized, smaller=smaller)
    # A fresh sequential decode for each search encode of a large image (see ``balanced``); a rotated
    # image cannot be decoded sequentially, so it is always re-read.
    stream = (
        None
        if raster.recoded
        else lambda: prepare(load(data, Format.JPEG, rotate=raster.stored_orientation == 1))
    )
    # The cap holds for a same-size output only: a resized one averages the source's artefacts away.
    try:
        out, score, learnt = balanced(
            image,
            keep,
            deadline,
            random_access=not resized,
            cap=MAX_QUALITY if resized else cap,
            stream=stream,
            hint=options.hint,
            target=options.target,
        )
    except DeadlineExceeded:
        if resized:
            raise
        # Out of time before an output passed: the lossless result (a lossless pass takes a fraction
        # of one encode), not the input.
        out, score, learnt = b"", 0.0, None
    if score < options.target and not resized:
        # Nothing up to the source's own quality reaches the target (re-encoding a heavily compressed JPEG
        # adds its loss to the source's): the lossless transcode, every pixel kept.
        lossless = lossless_transcode(data, options, raster.orientation, raster.head)
        return finish(data, lossless, Format.JPEG, size, score=100.0, resized=False, search=learnt)
    out = jpeg_with_exif(out, block)
    return finish(
        data, out, Format.JPEG, out_size, score=score, resized=resized, smaller=smaller, search=learnt
    )


def balanced(
    image: pyvips.Image,
    keep: str,
    deadline: float | None,
    *,
    random_access: bool = False,
    cap: int = MAX_QUALITY,
    stream: Callable[[], pyvips.Image] | None = None,
    hint: SearchHint | None = None,
    target: float = TARGET_SCORE,
) -> tuple[bytes, float, SearchHint | None]:
    """Smallest output scoring at least ``target`` against ``image`` at full resolution.

    Candidates are encoded the cheap way (jpegli, or baseline mozjpeg where jpegli cannot carry
    the image or its metadata) and scored at full resolution; the winner alone then gets the
    lossless pass for optimised Huffman tables and progressive scans, which leaves its pixels, and
    so its score, unchanged. Images above PROXY_MIN_PIXELS start from the quality the same search
    finds on ``proxy_mosaic``, so the full-resolution search needs few steps. Where jpegli misses
    80 even at the top of the range (it trades blue-channel detail away on some synthetic images),
    mozjpeg is searched too.
    A large ``random_access`` image is not copied into memory: every pass re-reads it. Its search
    encodes read ``stream()`` instead, a fresh sequential decode of the same pixels, when given: the
    encoder reads the whole image, and the decoded copy's pages it touched would stay resident next
    to the encoder's own buffers (the peak: +280 MiB at 100 MP).
    Qualities above ``cap`` (the source's own) are not searched.
    Out of time for the full-resolution search, the proxy's passing quality is the answer (its score,
    measured on the proxy, is the one reported).
    With a ``hint`` from the same encoder (what the search of the job's original learnt; this is
    a resize style of it), there is no proxy: the search starts at the hint's quality, the hint's
    points its model. Returns the output, its score and what the search learnt.
    """
    from .quality import Reference

    in_place = random_access and image.width * image.height > LARGE_IMAGE_PIXELS
    with vips_errors(deadline):
        if not in_place:
            image = image.copy_memory()
    encoder = _search_encoder(image, keep, deadline, stream if in_place else None)
    space = _space(cap)
    first = None
    model: tuple[Point, ...] = ()
    if (
        hint_for(hint, encoder[0]) is None
        and image.width * image.height > PROXY_MIN_PIXELS
        and min(image.width, image.height) >= 2 * PROXY_TILE
    ):
        with vips_errors(deadline):
            proxy = proxy_mosaic(image).copy_memory()
            proxy_reference = Reference(proxy)
        proxy_encoder = _search_encoder(proxy, keep, deadline)
        started = time.monotonic()
        proxy_space = replace(space, max_evals=PROXY_MAX_EVALS)
        found, tried = _search(proxy, proxy_reference, proxy_encoder, deadline, proxy_space, target=target)
        model = tuple((c.setting, c.score) for c in tried)
        first = model_guess(model, target, space.low, space.high, space.slope, PROXY_OFFSET)
        # Anytime: a full-resolution evaluation costs about the proxy's times the pixel ratio (the
        # reference as much again); without time for two, the proxy's passing quality is encoded once.
        per_pixel = (time.monotonic() - started) / len(tried) / (proxy.width * proxy.height)
        expected = per_pixel * image.width * image.height
        stop_at = search_deadline(deadline)
        if found is not None and stop_at is not None and time.monotonic() + 2 * expected > stop_at:
            logger.info("jpeg balanced: no time for a full-resolution search; quality %d", found.setting)
            learnt = SearchHint.learnt(proxy_encoder[0], found, tried)
            return _finish_scan(encoder[1](found.setting), keep), found.score, learnt
    with vips_errors(deadline):
        reference = Reference(image)
    found, tried = _search(
        image, reference, encoder, deadline, space, first=first, model=model, hint=hint, target=target
    )
    if found is None and (model or hint is not None):
        # Scores need not rise with the quality everywhere: where the guided search found no pass, the
        # plain one looks too (the qualities already scored are not encoded again).
        known = {c.setting: c for c in tried}
        found, more = _search(image, reference, encoder, deadline, space, known=known, target=target)
        tried = list({c.setting: c for c in tried + more}.values())
    learnt = SearchHint.learnt(encoder[0], found, tried)
    if found is None and encoder[0] != "mozjpeg":
        fallback = _mozjpeg_encoder(image, keep, deadline)
        found, more = _search(image, reference, fallback, deadline, space, hint=hint, target=target)
        learnt = SearchHint.learnt(fallback[0], found, more)
        tried += more
    chosen = found or max(tried, key=lambda c: c.score)
    return _finish_scan(chosen.data, keep), chosen.score, learnt


Encoder = tuple[str, Callable[[int], bytes]]


def _space(cap: int) -> SearchSpace:
    """BALANCED, without the qualities above ``cap``."""
    return BALANCED if cap >= BALANCED.high else replace(BALANCED, high=cap, low=min(BALANCED.low, cap))


def _search(
    image: pyvips.Image,
    reference: "Reference",
    encoder: Encoder,
    deadline: float | None,
    space: SearchSpace,
    *,
    first: int | None = None,
    model: tuple[Point, ...] = (),
    hint: SearchHint | None = None,
    known: dict[int, Candidate] | None = None,
    target: float = TARGET_SCORE,
) -> tuple[Candidate | None, list[Candidate]]:
    """``space``'s search with ``encoder``, scored against ``reference``; ``hint`` only when it
    comes from the same encoder; ``known`` candidates are not evaluated again."""
    name, encode = encoder

    def evaluate(quality: int) -> Candidate:
        if known is not None and quality in known:
            return known[quality]
        encoded = encode(quality)
        with vips_errors(deadline):
            return Candidate(quality, encoded, reference.score(pyvips.Image.new_from_buffer(encoded, "")))

    hint = hint_for(hint, name)
    found, tried = space.search(
        evaluate, first=first, deadline=deadline, model=model, hint=hint, target=target
    )
    logger.debug(
        "jpeg balanced %s %dx%d: %s",
        name,
        image.width,
        image.height,
        [(c.setting, len(c.data), round(c.score, 1)) for c in tried],
    )
    return found, tried


def _search_encoder(
    image: pyvips.Image, keep: str, deadline: float | None, stream: Callable[[], pyvips.Image] | None = None
) -> Encoder:
    """The encoder balanced searches with, producing the final pixels cheaply (no progressive
    scan search): jpegli, usually the smallest near a score of 80 (for 8-bit colour whose only
    metadata kept is the ICC profile, up to LARGE_IMAGE_PIXELS), else baseline mozjpeg (reading
    ``stream()``, a fresh decode of ``image``, when given)."""
    if image.bands == 3 and keep == "icc" and image.width * image.height <= LARGE_IMAGE_PIXELS:
        profile = image.get("icc-profile-data") if image.get_typeof("icc-profile-data") else None
        return "jpegli", lambda quality: jpegli_encode(image, quality, profile, deadline)
    return _mozjpeg_encoder(image, keep, deadline, stream)


def _mozjpeg_encoder(
    image: pyvips.Image, keep: str, deadline: float | None, stream: Callable[[], pyvips.Image] | None = None
) -> Encoder:
    def encode(quality: int) -> bytes:
        with vips_errors(deadline):
            source = stream() if stream is not None else image
        return mozjpeg_encode(source, quality, keep, deadline, progressive=False)

    return "mozjpeg", encode


def _finish_scan(jpeg: bytes, keep: str) -> bytes:
    """Optimised Huffman tables and progressive scans (a lossless pass), unless baseline is smaller."""
    copy = mlo.COPY_MARKERS.ICC if keep == "icc" else mlo.COPY_MARKERS.ALL
    progressive = mlo.optimize(jpeg, copy=copy)
    return progressive if len(progressive) < len(jpeg) else jpeg


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
