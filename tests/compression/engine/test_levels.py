"""``levels.calibrated``: a lossy level in another encoder's quality scale, monotonic and within 1..100."""

import pytest

from compression.engine.levels import calibrated

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
