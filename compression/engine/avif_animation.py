"""Animated AVIF (an AV1 image sequence) for ``convert``: libvips' ``heifsave`` writes still images only,
so animations go through Pillow's AVIF plugin (libavif with libaom, in Pillow's wheels).

Every frame is kept, each shown as long as a browser shows the source frame (``timeline.played_ms``:
a GIF frame of 10 ms or less plays for 100 ms); the sequence loops forever (libavif's default, which
Pillow does not let a caller change). ``lossy`` maps the level as for still AVIF; ``balanced`` searches
the quality for the smallest output whose sampled frames reach the target against the source's. There is
no lossless animated AVIF here (libavif's lossless mode needs the identity matrix, which Pillow does not
expose): ``lossless`` is refused in favour of WebP.
"""

import io
import logging

import numpy as np
import PIL.Image
import pyvips

from .avif import BALANCED as STILL_BALANCED
from .avif import level_to_quality
from .decode import check_deadline, frame_count, page_height, sample_pages, side_by_side, vips_errors
from .errors import CorruptInput
from .search import TARGET_SCORE, Candidate, SearchHint, hint_for
from .timeline import played_ms, sample_indices

logger = logging.getLogger(__name__)

# libavif's speed (0 slowest .. 10 fastest): every frame is a full AV1 encode; 8 keeps a 100-frame
# animation of a few hundred pixels within a second per candidate.
SPEED = 8
QUALITY_SAMPLE_FRAMES = 6
BALANCED = STILL_BALANCED
# Chroma at half resolution suits photos; screen captures and flat graphics (most animated GIFs) may
# not reach the target with it at any quality (a 479x250 UI recording: 79.9 at best), and get it whole.
HALF_CHROMA, FULL_CHROMA = "4:2:0", "4:4:4"
ENCODER = "aom-sequence"  # the scale of what a search learnt (``SearchHint.encoder``)
FULL_CHROMA_ENCODER = "aom-sequence-444"
LOSSLESS_REFUSAL = "An animation cannot be converted to lossless AVIF; ask for WebP."


def encode(image: pyvips.Image, quality: int, deadline: float | None, *, full_chroma: bool = False) -> bytes:
    """Every frame of ``image`` (8-bit sRGB, frames stacked by ``page-height``) as one AVIF sequence."""
    check_deadline(deadline)
    frames = _frames(image)
    delays = _delays(image, len(frames))
    buffer = io.BytesIO()
    try:
        frames[0].save(
            buffer,
            "AVIF",
            save_all=True,
            append_images=frames[1:],
            duration=delays,
            quality=quality,
            speed=SPEED,
            subsampling=FULL_CHROMA if full_chroma else HALF_CHROMA,
        )
    except (OSError, ValueError) as error:
        raise CorruptInput(f"The animation could not be encoded as AVIF: {error}") from error
    return buffer.getvalue()


def lossy(image: pyvips.Image, level: int, deadline: float | None) -> bytes:
    return encode(image, level_to_quality(level), deadline)


def balanced(
    image: pyvips.Image,
    deadline: float | None,
    hint: SearchHint | None = None,
    target: float = TARGET_SCORE,
) -> tuple[bytes, float, SearchHint | None]:
    """Smallest AVIF sequence whose sampled frames score at least ``target`` against the same source
    frames (the highest-scoring one when none does); the output, its score and what the search learnt."""
    from .quality import Reference

    with vips_errors(deadline):
        image = image.copy_memory()
        pages = sample_indices(frame_count(image), QUALITY_SAMPLE_FRAMES)
        reference = Reference(sample_pages(image, QUALITY_SAMPLE_FRAMES).copy_memory(), deadline=deadline)

    def evaluate(quality: int, full_chroma: bool = False) -> Candidate:
        encoded = encode(image, quality, deadline, full_chroma=full_chroma)
        with vips_errors(deadline):
            return Candidate(quality, encoded, reference.score(_decoded_pages(encoded, pages, image.bands)))

    best, tried = BALANCED.search(evaluate, deadline=deadline, hint=hint_for(hint, ENCODER), target=target)
    learnt = SearchHint.learnt(ENCODER, best, tried)
    if best is None:
        best, more = BALANCED.search(
            lambda quality: evaluate(quality, full_chroma=True),
            deadline=deadline,
            hint=hint_for(hint, FULL_CHROMA_ENCODER),
            target=target,
        )
        learnt = SearchHint.learnt(FULL_CHROMA_ENCODER, best, more) or learnt
        tried += more
    logger.debug("avif sequence: tried %s", [(c.setting, len(c.data), round(c.score, 1)) for c in tried])
    chosen = best or max(tried, key=lambda c: c.score)
    return chosen.data, chosen.score, learnt


def _frames(image: pyvips.Image) -> list[PIL.Image.Image]:
    mode = "RGBA" if image.bands == 4 else "RGB"
    height = page_height(image)
    with vips_errors(None):
        stacked = image.numpy()
    return [
        PIL.Image.fromarray(np.ascontiguousarray(stacked[top : top + height]), mode)
        for top in range(0, image.height, height)
    ]


def _delays(image: pyvips.Image, frames: int) -> list[int]:
    delays = list(image.get("delay")) if image.get_typeof("delay") else []
    delays = (delays + [0] * frames)[:frames]
    return [played_ms(delay) for delay in delays]


def _decoded_pages(data: bytes, pages: list[int], bands: int) -> pyvips.Image:
    """The output's frames at ``pages`` (one output frame per source frame), side by side."""
    mode = "RGBA" if bands == 4 else "RGB"
    parts = []
    with PIL.Image.open(io.BytesIO(data)) as sequence:
        for page in pages:
            sequence.seek(page)
            pixels = np.asarray(sequence.convert(mode))
            parts.append(pyvips.Image.new_from_array(pixels, interpretation="srgb"))
    return side_by_side(parts)
