"""``levels.calibrated``: a lossy level in another encoder's quality scale, monotonic and within 1..100;
and what it is for: one level looks about the same in each output format."""

from pathlib import Path

import imagecodecs
import numpy as np
import pytest
import pyvips

from compression.engine import CompressionType, CompressOptions, compress
from compression.engine.levels import calibrated
from compression.engine.quality import ssimulacra2

POINTS = ((30, 20), (50, 45), (80, 70), (95, 90))


@pytest.mark.parametrize(
    ("level", "quality"),
    [(30, 20), (50, 45), (40, 32), (80, 70), (95, 90), (100, 95), (20, 10), (1, 1), (0, 1), (120, 95)],
)
def test_measured_levels_map_to_their_quality_and_others_in_between(level: int, quality: int) -> None:
    assert calibrated(level, POINTS) == quality


def test_the_mapping_never_falls_as_the_level_rises() -> None:
    qualities = [calibrated(level, POINTS) for level in range(1, 101)]

    assert qualities == sorted(qualities)
    assert all(1 <= quality <= 100 for quality in qualities)


def test_one_lossy_level_looks_about_the_same_in_every_format() -> None:
    # given: a real camera photo, and lossy level 80 asked as JPEG, WebP, AVIF and JPEG XL
    data = (Path(__file__).parents[2] / "files" / "camera-photo-gps.jpg").read_bytes()
    source = pyvips.Image.new_from_buffer(data, "").autorot()

    # when
    scores = {
        fmt: ssimulacra2(source, _pixels(_lossy(data, 80, fmt))) for fmt in ("jpeg", "webp", "avif", "jxl")
    }

    # then: each within a few points of JPEG's (the calibration's spread between photos is wider)
    assert all(abs(score - scores["jpeg"]) < 5 for score in scores.values()), scores


def _lossy(data: bytes, level: int, fmt: str) -> bytes:
    options = CompressOptions(compression_type=CompressionType.LOSSY, level=level, convert=(fmt,))
    return compress(data, options=options).data


def _pixels(data: bytes) -> pyvips.Image:
    if data[:2] == b"\xff\x0a":  # a JPEG XL codestream: libvips here has no loader for it
        return pyvips.Image.new_from_array(
            np.ascontiguousarray(imagecodecs.jpegxl_decode(data)), interpretation="srgb"
        )
    return pyvips.Image.new_from_buffer(data, "")
