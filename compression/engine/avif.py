"""AVIF output (``convert``) through libvips' ``heifsave`` with libheif's AV1 encoder (both in
``pyvips-binary``): still images only, since libvips writes one image per HEIF file.

``lossy`` maps the level to AVIF's quality one to one; ``lossless`` is AV1's lossless mode (4:4:4,
identity matrix); ``balanced`` searches the quality for the smallest output that reaches the target,
scored at full resolution against the pixels it was made from.
"""

import logging

import pyvips

from .decode import vips_errors, watch
from .search import TARGET_SCORE, Candidate, SearchHint, SearchSpace, hint_for

logger = logging.getLogger(__name__)

# libaom's speed: effort 4 took 1.9 s on a 4 MP photo for 21% fewer bytes than effort 2 (0.25 s) at the
# same Q; 3 is between them. A balanced search encodes 2-4 times.
EFFORT = 3
# Balanced: the quality (1..100) search. Near a score of 80 a photo needs about Q 60-70.
BALANCED = SearchSpace(first=64, low=20, high=98, slope=0.5, max_evals=4, tolerance=3, close_enough=1.0)
ENCODER = "aom"  # the scale of what a search learnt (``SearchHint.encoder``)


def level_to_quality(level: int) -> int:
    """AVIF quality for a ``lossy`` level: the identity (monotonic, 1..100)."""
    return min(max(level, 1), 100)


def encode(
    image: pyvips.Image, quality: int, keep: str, deadline: float | None, *, lossless: bool = False
) -> bytes:
    with vips_errors(deadline):
        return watch(image, deadline).heifsave_buffer(
            compression="av1", Q=quality, lossless=lossless, effort=EFFORT, keep=keep
        )


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
