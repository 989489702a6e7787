"""AVIF through libvips' ``heifsave`` with libheif's AV1 encoder (both in ``pyvips-binary``): an AVIF
input's codec, and the encoder of ``convert``'s AVIF outputs. Still images only: libvips writes one image
per HEIF file (an animated AVIF input keeps its first frame).

``lossy`` maps the level to the AVIF quality that looks like lossy JPEG at that level
(``levels.py``); ``lossless`` is AV1's lossless mode (4:4:4, identity matrix), and for an AVIF input of the
same size the input itself (a lossless re-encode of decoded AV1 only grows); ``balanced`` searches the
quality for the smallest output that reaches the target, scored at full resolution against the pixels it
was made from.
"""

import logging

import pyvips

from .decode import to_srgb8, vips_errors, watch
from .formats import Format
from .levels import calibrated
from .metadata import keep_flags, kept
from .options import CompressionType, CompressOptions
from .raster import Raster
from .result import IDENTICAL_SCORE, Result, finish, largest_within
from .search import TARGET_SCORE, Candidate, SearchHint, SearchSpace, hint_for

logger = logging.getLogger(__name__)

# libaom's speed: effort 4 took 1.9 s on a 4 MP photo for 21% fewer bytes than effort 2 (0.25 s) at the
# same Q; 3 is between them. A balanced search encodes 2-4 times.
EFFORT = 3
# Balanced: the quality (1..100) search. Near a score of 80 a photo needs about Q 60-70.
BALANCED = SearchSpace(first=64, low=20, high=98, slope=0.5, max_evals=4, tolerance=3, close_enough=1.0)
ENCODER = "aom"  # the scale of what a search learnt (``SearchHint.encoder``)


# ``lossy``: the AVIF quality that scored like lossy JPEG at each level (``levels.py``; measured on 21 photos,
# docs/benchmarks.md).
LOSSY_LEVELS = ((30, 21), (40, 31), (50, 37), (60, 41), (70, 49), (80, 62), (90, 89), (95, 91))


def level_to_quality(level: int) -> int:
    """AVIF quality for a ``lossy`` level (monotonic, 1..100)."""
    return calibrated(level, LOSSY_LEVELS)


def encode(
    image: pyvips.Image, quality: int, keep: str, deadline: float | None, *, lossless: bool = False
) -> bytes:
    with vips_errors(deadline):
        return watch(image, deadline).heifsave_buffer(
            compression="av1", Q=quality, lossless=lossless, effort=EFFORT, keep=keep
        )


def compress_avif(raster: Raster, options: CompressOptions, deadline: float | None) -> Result:
    data, resized = raster.data, raster.resized
    keep = keep_flags(options)
    kind = options.compression_type
    if kind is CompressionType.LOSSLESS and not resized:
        return finish(data, data, Format.AVIF, raster.size, score=None, resized=False)
    with vips_errors(deadline):
        image = to_srgb8(raster.pixels(deadline, sequential=kind is not CompressionType.BALANCED))
    image = kept(image, raster, options)
    size = (image.width, image.height)

    def smaller(limit: int) -> bytes | None:
        return largest_within(limit, lambda quality: encode(image, quality, keep, deadline), 1, 99)

    if kind is CompressionType.LOSSLESS:
        out = encode(image, 100, keep, deadline, lossless=True)
        return finish(data, out, Format.AVIF, size, score=None, resized=resized, smaller=smaller)
    if kind is CompressionType.LOSSY:
        out = encode(image, level_to_quality(options.level), keep, deadline)
        return finish(data, out, Format.AVIF, size, score=None, resized=resized, smaller=smaller)
    out, score, learnt = balanced(image, keep, deadline, options.hint, options.target)
    if score < options.target:  # no lossy quality reaches it: the input itself, or a style lossless
        if resized:
            out, score = encode(image, 100, keep, deadline, lossless=True), IDENTICAL_SCORE
        else:
            out = data
    return finish(data, out, Format.AVIF, size, score=score, resized=resized, smaller=smaller, search=learnt)


def balanced(
    image: pyvips.Image,
    keep: str,
    deadline: float | None,
    hint: SearchHint | None = None,
    target: float = TARGET_SCORE,
) -> tuple[bytes, float, SearchHint | None]:
    """Smallest AVIF scoring at least ``target`` against ``image``; the best-scoring one when none
    does. Returns the output, its score and what the search learnt."""
    from .quality import Reference

    with vips_errors(deadline):
        image = image.copy_memory()
        reference = Reference(image, deadline=deadline)

    def evaluate(quality: int) -> Candidate:
        encoded = encode(image, quality, keep, deadline)
        with vips_errors(deadline):
            return Candidate(quality, encoded, reference.score(pyvips.Image.new_from_buffer(encoded, "")))

    best, tried = BALANCED.search(evaluate, deadline=deadline, hint=hint_for(hint, ENCODER), target=target)
    logger.debug("avif balanced: tried %s", [(c.setting, len(c.data), round(c.score, 1)) for c in tried])
    learnt = SearchHint.learnt(ENCODER, best, tried)
    chosen = best or max(tried, key=lambda c: c.score)
    return chosen.data, chosen.score, learnt
