"""JPEG XL output (``convert``) with libjxl through ``imagecodecs`` (the libvips of ``pyvips-binary`` has
no JPEG XL). Still images only; the output is a bare JPEG XL codestream in sRGB: an embedded ICC profile
is applied to the pixels first, and no other metadata is written (``preserve`` has nothing to keep in it).

``lossy`` maps the level to the libjxl quality that looks like lossy JPEG at that level (``levels.py``),
``lossless`` is libjxl's lossless mode, and ``balanced`` searches the quality for the smallest output
reaching the target at full resolution.
"""

import logging

import imagecodecs
import numpy as np
import pyvips

from .decode import check_deadline, to_srgb8, vips_errors
from .errors import CorruptInput
from .levels import calibrated
from .search import TARGET_SCORE, Candidate, SearchHint, SearchSpace, hint_for

logger = logging.getLogger(__name__)

# libjxl's effort (1-9, default 7): 5 took a quarter of a second for a 1 MP photo, within a few percent.
EFFORT = 5
BALANCED = SearchSpace(first=75, low=20, high=98, slope=0.6, max_evals=4, tolerance=2, close_enough=1.0)
ENCODER = "libjxl"  # the scale of what a search learnt (``SearchHint.encoder``)


# ``lossy``: the libjxl quality that scored like lossy JPEG at each level (``levels.py``; measured on 21
# photos, docs/benchmarks.md). Below 90 libjxl's scale reads higher than mozjpeg's.
LOSSY_LEVELS = ((30, 16), (40, 23), (50, 36), (60, 50), (70, 62), (80, 75), (90, 90), (95, 94))


def level_to_quality(level: int) -> int:
    """libjxl quality for a ``lossy`` level (monotonic, 1..100)."""
    return calibrated(level, LOSSY_LEVELS)


def srgb_pixels(image: pyvips.Image) -> pyvips.Image:
    """8-bit sRGB pixels, an embedded profile applied (the codestream carries none)."""
    if image.get_typeof("icc-profile-data"):
        image = image.icc_transform("srgb", embedded=True)
    return to_srgb8(image).copy_memory()


def encode(image: pyvips.Image, quality: int, deadline: float | None, *, lossless: bool = False) -> bytes:
    check_deadline(deadline)
    pixels = image.numpy()
    if lossless:
        return bytes(imagecodecs.jpegxl_encode(pixels, lossless=True, effort=EFFORT))
    return bytes(imagecodecs.jpegxl_encode(pixels, level=quality, effort=EFFORT))


def decode(data: bytes) -> pyvips.Image:
    try:
        pixels = np.ascontiguousarray(imagecodecs.jpegxl_decode(data))
    except imagecodecs.JpegxlError:
        raise CorruptInput() from None
    return pyvips.Image.new_from_array(pixels, interpretation="srgb" if pixels.ndim == 3 else "b-w")


def balanced(
    image: pyvips.Image, deadline: float | None, hint: SearchHint | None = None, target: float = TARGET_SCORE
) -> tuple[bytes, float, SearchHint | None]:
    """Smallest JPEG XL scoring at least ``target`` against ``image`` (sRGB pixels); the best-scoring
    one when none does. Returns the output, its score and what the search learnt."""
    from .quality import Reference

    with vips_errors(deadline):
        reference = Reference(image, deadline=deadline)

    def evaluate(quality: int) -> Candidate:
        encoded = encode(image, quality, deadline)
        with vips_errors(deadline):
            return Candidate(quality, encoded, reference.score(decode(encoded)))

    best, tried = BALANCED.search(evaluate, deadline=deadline, hint=hint_for(hint, ENCODER), target=target)
    logger.debug("jxl balanced: tried %s", [(c.setting, len(c.data), round(c.score, 1)) for c in tried])
    chosen = best or max(tried, key=lambda c: c.score)
    return chosen.data, chosen.score, SearchHint.learnt(ENCODER, best, tried)
