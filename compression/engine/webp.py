"""WebP through libvips/libwebp: a lossless input stays lossless (unless the type is ``lossy``),
a lossy one is re-encoded lossy; animations keep their frames, delays and loop count."""

import logging
import struct
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pyvips

from .decode import (
    frame_count,
    page_height,
    sample_pages,
    vips_errors,
    watch,
)
from .formats import Format
from .levels import calibrated
from .metadata import keep_flags, kept
from .options import CompressionType, CompressOptions
from .raster import Raster
from .result import IDENTICAL_SCORE, Result, finish, largest_within
from .search import TARGET_SCORE, Candidate, Point, SearchHint, SearchSpace, hint_for, model_guess
from .timeline import frame_map, load_pages, sample_indices, webp_delays

logger = logging.getLogger(__name__)

LOSSY_EFFORT = 4
LOSSLESS_EFFORT = 5
# ``lossless`` on a lossy input larger than this returns the input without trying a lossless encode.
LOSSY_RECODE_MAX_PIXELS = 1_000_000
# Balanced (lossy inputs): libwebp quality search; frames scored per candidate of an animation. A pass
# by less than one quality step's score (slope) is not searched below: the next try would be at least
# ``tolerance`` steps down and fail, and one evaluation of a 16 MP image costs about five plain encodes.
BALANCED = SearchSpace(first=80, low=30, high=100, slope=0.6, max_evals=4, tolerance=2, close_enough=0.6)
QUALITY_SAMPLE_FRAMES = 6
# Balanced on a still image with room for 4 x PROXY_TILES tiles: the search runs on a proxy,
# PROXY_TILES tiles of PROXY_TILE_PX (a multiple of libwebp's 16 px macroblock) taken at evenly spaced
# quantiles of their luma variance (flat, textured and busy areas alike), each encoded on its own and
# scored as one mosaic (~1 MP: an evaluation costs a quarter of a plain encode of 16 MP). On the dev
# corpus the proxy read 1.5-1.8 points above the full image near 80 (PROXY_OFFSET); the proxy's points
# are the model of the full-resolution search (VERIFY), which starts where the shifted model reaches 80
# and scores the bytes returned at full resolution. Re-encoding a WebP (VERIFY) stops at a pass within 2.5
# points: near the source's own quality the scores rise steeply and a step down fails (licorice-d.webp:
# q86 81.7, q85 79.9; the try cost 30% more time). Converting another format (VERIFY_CONVERTED), a pass by
# more than a point goes one step down when the model, shifted to that pass, puts it within half a point
# of the target: libwebp's sizes jump near quality 90 (a 4 MP JPEG: 263,538 B at q90 scoring 81.7,
# 229,990 B at q89 scoring 80.4).
PROXY_TILE_PX = 256
PROXY_TILES = 16
PROXY_OFFSET = -1.6
PROXY_SEARCH = replace(BALANCED, tolerance=1, max_evals=4, close_enough=0.5)
# The scales of what a search learnt (``SearchHint.encoder``): plain or sharp YUV qualities.
PLAIN = "libwebp"
SHARP = "libwebp-sharp"
VERIFY = SearchSpace(first=80, low=30, high=100, slope=0.6, max_evals=3, tolerance=1, close_enough=2.5)
VERIFY_CONVERTED = replace(VERIFY, close_enough=1.0, model_stop=0.5)


# ``lossy``: the libwebp quality that scored like lossy JPEG at each level (``levels.py``; measured on 21
# photos, docs/benchmarks.md). Above 85 no WebP quality reaches what JPEG does at 90.
LOSSY_LEVELS = ((30, 19), (40, 35), (50, 49), (60, 62), (70, 76), (80, 86), (90, 100), (95, 100))


def level_to_quality(level: int) -> int:
    """libwebp quality for a ``lossy`` level (monotonic, 1..100)."""
    return calibrated(level, LOSSY_LEVELS)


def _chunks(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(fourcc, payload start, payload end) of the RIFF chunks between ``start`` and ``end``."""
    found = []
    pos = start
    while pos + 8 <= end:
        fourcc = data[pos : pos + 4]
        size = struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        found.append((fourcc, pos + 8, min(pos + 8 + size, end)))
        pos += 8 + size + (size & 1)
    return found


def is_lossless(data: bytes) -> bool:
    """True when every frame is VP8L (lossless) data, looking inside animation frames."""
    kinds: set[bytes] = set()
    end = min(len(data), 8 + struct.unpack("<I", data[4:8])[0])
    for fourcc, start, stop in _chunks(data, 12, end):
        if fourcc == b"ANMF":
            kinds.update(f for f, _, _ in _chunks(data, start + 16, stop) if f in (b"VP8 ", b"VP8L"))
        elif fourcc in (b"VP8 ", b"VP8L"):
            kinds.add(fourcc)
    return kinds == {b"VP8L"}


def lossless_encode(image: pyvips.Image, keep: str, deadline: float | None) -> bytes:
    with vips_errors(deadline):
        return watch(image, deadline).webpsave_buffer(
            lossless=True, exact=True, effort=LOSSLESS_EFFORT, keep=keep
        )


def lossy_encode(
    image: pyvips.Image, quality: int, keep: str, deadline: float | None, *, sharp: bool = False
) -> bytes:
    """libwebp's lossy encode; ``sharp``: its sharp RGB to YUV conversion (``smart_subsample``), which
    keeps colour edges at twice the encode time and, on photos, more bytes at the same score."""
    with vips_errors(deadline):
        return watch(image, deadline).webpsave_buffer(
            Q=quality, smart_subsample=sharp, effort=LOSSY_EFFORT, keep=keep
        )


def compress_webp(raster: Raster, options: CompressOptions, deadline: float | None) -> Result:
    data, resized = raster.data, raster.resized
    keep = keep_flags(options)
    # Random access: a balanced search encodes the same pixels several times.
    image = raster.pixels(deadline, sequential=options.compression_type is not CompressionType.BALANCED)
    image = kept(image, raster, options)
    out_size = (image.width, page_height(image))
    kind = options.compression_type
    resized_image = image

    def smaller(limit: int) -> bytes | None:
        return largest_within(limit, lambda q: lossy_encode(resized_image, q, keep, deadline), 1, 99)

    if kind is CompressionType.LOSSLESS or (kind is CompressionType.BALANCED and is_lossless(data)):
        if not resized and not is_lossless(data) and image.width * image.height > LOSSY_RECODE_MAX_PIXELS:
            # A lossy input's decoded noise costs far more bytes losslessly: not worth the encode.
            return finish(data, data, Format.WEBP, out_size, score=None, resized=False)
        out = lossless_encode(image, keep, deadline)
        return finish(data, out, Format.WEBP, out_size, score=None, resized=resized, smaller=smaller)
    if kind is CompressionType.LOSSY:
        out = lossy_encode(image, level_to_quality(options.level), keep, deadline)
        return finish(data, out, Format.WEBP, out_size, score=None, resized=resized, smaller=smaller)
    out, score, learnt = balanced(image, keep, deadline, options.hint, options.target)
    if score < options.target:  # no lossy quality reaches it: the input itself, or a style lossless
        if resized:
            out, score = lossless_encode(image, keep, deadline), IDENTICAL_SCORE
        else:
            out = data
    return finish(
        data, out, Format.WEBP, out_size, score=score, resized=resized, smaller=smaller, search=learnt
    )


def balanced(
    image: pyvips.Image,
    keep: str,
    deadline: float | None,
    hint: SearchHint | None = None,
    target: float = TARGET_SCORE,
    *,
    converting: bool = False,
) -> tuple[bytes, float, SearchHint | None]:
    """Smallest lossy output scoring at least ``target`` against the decoded input (an animation:
    against a few evenly spaced frames, each compared with the output frame shown at the same time:
    the encoder merges identical consecutive frames); the highest-scoring one when none reaches it.
    With a ``hint`` (what the original's search learnt; this is a resize style of it) the search
    starts at its quality with its points as the model, without a proxy. ``converting``: the pixels are
    not a WebP's (the full-resolution search may then step below a first pass; see VERIFY_CONVERTED).
    Returns the output, its score and what the search learnt."""
    from .quality import Reference

    with vips_errors(deadline):
        image = image.copy_memory()
        frames = frame_count(image)
        source_delays = list(image.get("delay")) if frames > 1 and image.get_typeof("delay") else [0] * frames
        pages = sample_indices(frames, QUALITY_SAMPLE_FRAMES)
        reference = Reference(sample_pages(image, QUALITY_SAMPLE_FRAMES).copy_memory(), deadline=deadline)

    def evaluate(quality: int, sharp: bool = False) -> Candidate:
        encoded = lossy_encode(image, quality, keep, deadline, sharp=sharp)
        mapping = frame_map(source_delays, webp_delays(encoded))
        if mapping is None:  # never score the wrong frames
            logger.warning("webp encoder changed the animation's timing at quality %d", quality)
            return Candidate(quality, encoded, 0.0)
        with vips_errors(deadline):
            decoded = load_pages(encoded, [mapping[p] for p in pages])
            return Candidate(quality, encoded, reference.score(decoded))

    best: Candidate | None = None
    tried: list[Candidate] = []
    learnt: SearchHint | None = None
    sharp_hint = hint_for(hint, SHARP)
    if sharp_hint is None:  # else the original needed sharp YUV, and so does its style
        plain_hint = hint_for(hint, PLAIN)
        tiles_fit = (image.width // PROXY_TILE_PX) * (image.height // PROXY_TILE_PX) >= 4 * PROXY_TILES
        if plain_hint is None and frames == 1 and tiles_fit:
            verify = VERIFY_CONVERTED if converting else VERIFY
            best, tried = _proxy_guided_search(image, evaluate, keep, deadline, target, verify)
        else:
            best, tried = BALANCED.search(evaluate, deadline=deadline, hint=plain_hint, target=target)
        learnt = SearchHint.learnt(PLAIN, best, tried)
        logger.debug("webp balanced: tried %s", [(c.setting, len(c.data), round(c.score, 1)) for c in tried])
    if best is None:
        # Plain chroma subsampling misses 80 even at the top (small synthetic colour edges): sharp YUV.
        best, more = BALANCED.search(
            lambda q: evaluate(q, sharp=True), deadline=deadline, hint=sharp_hint, target=target
        )
        learnt = SearchHint.learnt(SHARP, best, more) or learnt
        logger.debug(
            "webp balanced, sharp YUV: tried %s", [(c.setting, len(c.data), round(c.score, 1)) for c in more]
        )
        tried += more
    if best is None:
        best = max(tried, key=lambda c: c.score)
    return best.data, best.score, learnt


def _proxy_guided_search(
    image: pyvips.Image,
    evaluate: Callable[[int], Candidate],
    keep: str,
    deadline: float | None,
    target: float,
    verify: SearchSpace,
) -> tuple[Candidate | None, list[Candidate]]:
    """``verify`` at full resolution, guided by the proxy's points; the plain search above the
    qualities tried when the model's guesses all missed."""
    model = proxy_points(image, keep, deadline, target)
    first = model_guess(model, target, BALANCED.low, BALANCED.high, BALANCED.slope, PROXY_OFFSET)
    best, tried = verify.search(evaluate, deadline=deadline, first=first, model=model, target=target)
    missed = max(c.setting for c in tried)
    if best is None and missed < BALANCED.high:
        best, more = replace(BALANCED, low=missed + 1).search(evaluate, deadline=deadline, target=target)
        tried += more
    return best, tried


def proxy_tiles(image: pyvips.Image) -> list[pyvips.Image]:
    """PROXY_TILES tiles of ``image`` at evenly spaced quantiles of their luma variance."""
    side = PROXY_TILE_PX
    columns, rows = image.width // side, image.height // side
    luma = image.colourspace("b-w").extract_band(0).crop(0, 0, columns * side, rows * side).cast("float")
    mean = luma.shrink(side, side)
    variance = (luma * luma).shrink(side, side) - mean * mean
    values = np.ndarray(buffer=variance.write_to_memory(), dtype=np.float32, shape=(rows, columns))
    order = np.argsort(values.ravel(), kind="stable")
    picks = order[np.linspace(0, len(order) - 1, PROXY_TILES).round().astype(int)]
    return [
        image.crop(int(i % columns) * side, int(i // columns) * side, side, side).copy_memory() for i in picks
    ]


def proxy_points(
    image: pyvips.Image, keep: str, deadline: float | None, target: float = TARGET_SCORE
) -> tuple[Point, ...]:
    """The (quality, score) points of the search for ``target`` on the proxy of ``image``."""
    from .quality import Reference

    with vips_errors(deadline):
        tiles = proxy_tiles(image)
        across = round(len(tiles) ** 0.5)
        reference = Reference(pyvips.Image.arrayjoin(tiles, across=across).copy_memory(), deadline=deadline)

    def evaluate(quality: int) -> Candidate:
        with vips_errors(deadline):
            decoded = [
                pyvips.Image.new_from_buffer(lossy_encode(tile, quality, keep, deadline), "")
                for tile in tiles
            ]
            mosaic = pyvips.Image.arrayjoin(decoded, across=across).copy_memory()
            return Candidate(quality, b"", reference.score(mosaic))

    # BALANCED.first is where a typical photo scores the default target.
    first = model_guess(((BALANCED.first, TARGET_SCORE),), target - PROXY_OFFSET, 0, 100, BALANCED.slope)
    _, tried = PROXY_SEARCH.search(evaluate, deadline=deadline, first=first, target=target - PROXY_OFFSET)
    logger.debug("webp proxy: tried %s", [(c.setting, round(c.score, 1)) for c in tried])
    return tuple(sorted((c.setting, c.score) for c in tried))
