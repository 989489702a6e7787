"""PNG: lossless recompression with oxipng; lossy/balanced palettes with libimagequant (through
libvips) when they meet the quality bar, else lossless."""

import logging
import struct
from collections.abc import Callable

import pyvips

from .decode import check_deadline, to_srgb8, vips_errors, watch
from .errors import CorruptInput, DeadlineExceeded
from .formats import PNG_SIGNATURE, Format
from .metadata import keep_flags, kept
from .options import CompressionType, CompressOptions
from .oxipng_run import OXIPNG_LEVEL, OxipngRun, oxipng_optimize
from .raster import Raster
from .result import IDENTICAL_SCORE, Result, finish, largest_within
from .search import TARGET_SCORE, Candidate, SearchHint, SearchSpace, hint_for

logger = logging.getLogger(__name__)

# balanced: oxipng's default preset (-o2); -o4 takes about 5x as long for a few percent, sometimes none.
BALANCED_OXIPNG_LEVEL = 2
# Dithering hides banding in gradients; libimagequant's default strength.
PALETTE_DITHER = 1.0
# Balanced: libimagequant quality (0..100) search; the score rises slowly with it.
BALANCED = SearchSpace(first=80, low=30, high=100, slope=0.4, max_evals=3, tolerance=10)
ENCODER = "libimagequant"  # the scale of what a search learnt (``SearchHint.encoder``)
# lossy/balanced also try the lossless recompression for images up to this size, or whose palette
# output takes more than this many bits per pixel (a large photo's palette takes ~0.1-1).
SMALL_IMAGE_PIXELS = 1_000_000
LOSSLESS_CHECK_BITS_PER_PIXEL = 2.0
LOSSLESS_CHECK_INPUT_RATIO = 0.4
# libvips' ``Q`` sets libimagequant's target quality: below ~95 it picks few colours (13 at Q80 on
# a photo-like graphic) and dithers them, and on some images those noisy few-colour candidates take
# more bytes than the full palette of a higher setting. A candidate with a full palette that fails
# the score, or is too large, ends the search (a higher setting gives the same palette); one with
# fewer colours that is too large counts as failing, unscored, and the search goes up.
MAX_PALETTE_COLOURS = 256
UNSCORED = 0.0
# balanced: a palette candidate above this share of the input PNG waits for the lossless result (oxipng
# takes 30-50% off a typical PNG) before it is scored, in case it is already no smaller.
LOSSLESS_WAIT_INPUT_RATIO = 0.6
# zlib level of the balanced search's palette candidates, which are only scored and compared: level 9
# took 4x as long (1.8 s for a 2 MP palette) for 5-10% fewer bytes. What is returned is encoded again at
# level 9 before oxipng, which does not always beat zlib's level 9 on a palette image (40 KB from level 9,
# 47 KB from level 6 on a 4-colour 8 MP graphic).
SEARCH_DEFLATE_LEVEL = 6


def level_to_quality(level: int) -> int:
    """libimagequant's maximum quality for a ``lossy`` level (identity: monotonic, 1..100)."""
    return min(max(level, 1), 100)


def _eight_bit(image: pyvips.Image) -> pyvips.Image:
    if image.format == "uchar":
        return image
    return image.colourspace("b-w" if image.bands < 3 else "srgb")


def palette_encode(
    image: pyvips.Image,
    quality: int,
    keep: str,
    deadline: float | None,
    *,
    bitdepth: int = 8,
    compression: int = 9,
) -> bytes:
    with vips_errors(deadline):
        return watch(_eight_bit(image), deadline).pngsave_buffer(
            palette=True,
            Q=quality,
            dither=PALETTE_DITHER,
            keep=keep,
            compression=compression,
            bitdepth=bitdepth,
        )


def palette_colours(png: bytes) -> int:
    """Entries in the PLTE chunk of a palette PNG (0 when it has none)."""
    offset = len(PNG_SIGNATURE)
    while offset + 8 <= len(png):
        length, kind = struct.unpack(">I4s", png[offset : offset + 8])
        if kind == b"PLTE":
            return length // 3
        if kind == b"IDAT":
            return 0
        offset += 12 + length
    return 0


def palette_depth(head: pyvips.Image) -> int | None:
    """Bits per palette index of a palette PNG (1, 2, 4 or 8); None for other PNGs."""
    if not (head.get_typeof("palette") and head.get("palette")):
        return None
    depth = int(head.get("bits-per-sample")) if head.get_typeof("bits-per-sample") else 8
    return depth if depth in (1, 2, 4, 8) else 8


def plain_encode(image: pyvips.Image, keep: str, deadline: float | None) -> bytes:
    with vips_errors(deadline):
        return watch(image, deadline).pngsave_buffer(keep=keep, compression=9)


def compress_png(raster: Raster, options: CompressOptions, deadline: float | None) -> Result:
    data, resized, recoded = raster.data, raster.resized, raster.recoded
    keep = keep_flags(options)
    # Random access: the pixels are decoded once and reused by every encoder below.
    image = kept(raster.pixels(deadline, sequential=False), raster, options)
    out_size = (image.width, image.height)
    if not recoded:
        with vips_errors(deadline):
            watch(image, deadline).avg()  # a full decode: truncated data fails here

    depth = palette_depth(raster.head)
    # With EXIF to keep, every PNG handed to oxipng is libvips' (holding only the kept EXIF), and oxipng
    # strips nothing: its ``safe`` stripping would drop the eXIf chunk.
    own_exif = options.strip_metadata and "exif" in keep
    strip = options.strip_metadata and not own_exif

    def lossless_input() -> bytes:
        """What the lossless recompression gives to oxipng."""
        if not recoded and not own_exif:
            return data
        if resized and depth is not None:
            # A palette image stays one: resizing blends colours, which are mapped back to a
            # palette of the source's size.
            return palette_encode(image, 100, keep, deadline, bitdepth=depth)
        return plain_encode(image, keep, deadline)

    def refused(level: int) -> bytes:
        # oxipng is stricter than libpng (a missing IEND, trailing data cut short): the pixels
        # libvips decoded are encoded again instead.
        logger.info("png refused by oxipng although it decodes; re-encoding its pixels")
        return oxipng_optimize(plain_encode(image, keep, deadline), strip, deadline, level=level)

    def lossless() -> bytes:
        try:
            return oxipng_optimize(lossless_input(), strip, deadline)
        except CorruptInput:
            if recoded:
                raise
            return refused(OXIPNG_LEVEL)

    def smaller(limit: int) -> bytes | None:
        return largest_within(
            limit,
            lambda q: oxipng_optimize(palette_encode(image, q, keep, deadline), strip, deadline),
            1,
            99,
        )

    input_bytes = None if recoded else len(data)
    check_deadline(deadline)
    if options.compression_type is CompressionType.LOSSLESS:
        return finish(data, lossless(), Format.PNG, out_size, score=None, resized=resized, smaller=smaller)
    if options.compression_type is CompressionType.LOSSY:
        quality = level_to_quality(options.level)
        encoded = palette_encode(image, quality, keep, deadline)
        palette = oxipng_optimize(encoded, strip, deadline)
        out = lossless() if _lossless_may_win(image, palette, input_bytes) else palette
        out = min(palette, out, key=len)
        return finish(data, out, Format.PNG, out_size, score=None, resized=resized, smaller=smaller)
    with vips_errors(deadline):
        palette_source = _without_opaque_alpha(image.copy_memory())
    running = OxipngRun(lossless_input(), strip, deadline, level=BALANCED_OXIPNG_LEVEL, threads=1)
    try:
        out, score, learnt = balanced(
            palette_source,
            running,
            lambda: refused(BALANCED_OXIPNG_LEVEL),
            input_bytes,
            strip,
            keep,
            deadline,
            options.hint,
            options.target,
        )
    finally:
        running.cancel()
    return finish(
        data, out, Format.PNG, out_size, score=score, resized=resized, smaller=smaller, search=learnt
    )


def _lossless_may_win(image: pyvips.Image, palette: bytes, input_bytes: int | None) -> bool:
    """Whether the lossless recompression is worth making to compare with a palette output:
    cheap for small images; for large ones only when the palette takes many bits per pixel or
    is not much smaller than the input PNG (which bounds the lossless size)."""
    pixels = image.width * image.height
    return (
        pixels <= SMALL_IMAGE_PIXELS
        or len(palette) * 8 > pixels * LOSSLESS_CHECK_BITS_PER_PIXEL
        or (input_bytes is not None and len(palette) > input_bytes * LOSSLESS_CHECK_INPUT_RATIO)
    )


class _StopSearch(Exception):
    """No further palette candidate can be smaller, or pass where the last one failed."""


def balanced(
    image: pyvips.Image,
    running: OxipngRun,
    refused: Callable[[], bytes],
    input_bytes: int | None,
    strip_metadata: bool,
    keep: str,
    deadline: float | None,
    hint: SearchHint | None = None,
    target: float = TARGET_SCORE,
) -> tuple[bytes, float, SearchHint | None]:
    """The smallest palette image scoring at least ``target``, else the lossless recompression (``running``:
    oxipng -o2 in a child process on the other core, started before the search; ``refused`` is the
    lossless result when oxipng refuses the input).

    The lossless result is waited for only when a candidate is large enough that it may lose to it,
    or when no palette passed; once known it bounds the candidates. A candidate no smaller than the
    input or the lossless result ends the search when its palette is full (a higher setting gives
    the same palette), else it counts as failing and the search goes on to fuller palettes, and the
    first of those that passes ends it. A candidate the same as an earlier one ends it too.
    With a ``hint`` (what the original's search learnt; this is a resize style of it) the search
    starts at its setting, its points the model. Returns the output, its score and what was learnt."""
    from .quality import Reference

    reference: Reference | None = None  # made for the first candidate that needs a score
    tried: list[Candidate] = []
    known: list[bytes] = []  # the lossless result, once the child has finished

    def lossless() -> bytes:
        if not known:
            try:
                known.append(running.result())
            except CorruptInput:
                known.append(refused())
        return known[0]

    def evaluate(quality: int) -> Candidate:
        nonlocal reference
        encoded = palette_encode(image, quality, keep, deadline, compression=SEARCH_DEFLATE_LEVEL)
        if running.finished() or (
            input_bytes is not None and len(encoded) > input_bytes * LOSSLESS_WAIT_INPUT_RATIO
        ):
            lossless()
        full = palette_colours(encoded) >= MAX_PALETTE_COLOURS
        bound = min([n for n in (input_bytes, *(len(k) for k in known)) if n is not None], default=None)
        if bound is not None and len(encoded) >= bound:
            if full:
                raise _StopSearch()
            # Fewer colours, dithered harder: a higher setting's fuller palette may be smaller.
            tried.append(Candidate(quality, encoded, UNSCORED))
            return tried[-1]
        if any(c.data == encoded for c in tried):
            raise _StopSearch()  # libimagequant saturates: settings further on give the same palette
        with vips_errors(deadline):
            if reference is None:
                reference = Reference(to_srgb8(image), deadline=deadline)
            score = reference.score(to_srgb8(pyvips.Image.new_from_buffer(encoded, "")))
        tried.append(Candidate(quality, encoded, score))
        if full and score < target:
            # libimagequant already used every colour it may: a higher setting gives the same image.
            raise _StopSearch()
        if score >= target and any(c.score == UNSCORED for c in tried):
            # Below a setting too large, size no longer falls with the setting: nothing to bisect.
            raise _StopSearch()
        return tried[-1]

    try:
        best, _ = BALANCED.search(evaluate, deadline=deadline, hint=hint_for(hint, ENCODER), target=target)
    except DeadlineExceeded:  # out of time before a palette passed: the lossless result, if it fits
        best = None
    except _StopSearch:
        passing = [c for c in tried if c.score >= target]
        best = min(passing, key=lambda c: len(c.data)) if passing else None
    logger.debug("png balanced: tried %s", [(c.setting, len(c.data), round(c.score, 1)) for c in tried])
    learnt = SearchHint.learnt(ENCODER, best, [c for c in tried if c.score != UNSCORED])
    if best is None:
        return lossless(), IDENTICAL_SCORE, learnt
    # The same palette (libimagequant is deterministic) at zlib's level 9.
    final = palette_encode(image, best.setting, keep, deadline)
    palette = oxipng_optimize(final, strip_metadata, deadline, level=BALANCED_OXIPNG_LEVEL)
    if known or _lossless_may_win(image, palette, input_bytes):
        truecolour = lossless()
        if len(truecolour) <= len(palette):
            return truecolour, IDENTICAL_SCORE, learnt
    return palette, best.score, learnt


def _without_opaque_alpha(image: pyvips.Image) -> pyvips.Image:
    """``image`` without its alpha band when every pixel is opaque: the palette then needs no alpha
    and the score one background instead of two (the same numbers)."""
    if not image.hasalpha() or image.format not in ("uchar", "ushort"):
        return image
    peak = 255 if image.format == "uchar" else 65535
    if image.extract_band(image.bands - 1).min() < peak:
        return image
    return image.extract_band(0, n=image.bands - 1)
