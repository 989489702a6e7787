"""What a ``lossy`` level means in each encoder's quality scale, so that one level gives about the same
visual quality in every output format. JPEG is the reference (the level is mozjpeg's quality, as users of
the original services know it); for WebP, AVIF and JPEG XL the level maps to the encoder quality whose
full-resolution SSIMULACRA2 matched lossy JPEG's at that level on a set of photos (the median over the
photos; ``bench/convert_calibration.py``, recorded in docs/benchmarks.md). Between the measured levels the
mapping is linear; it is monotonic, so a higher level never gives a lower quality.
"""

import bisect

Points = tuple[tuple[int, int], ...]


def calibrated(level: int, points: Points) -> int:
    """The encoder quality for ``level`` (1..100) on the piecewise-linear mapping through ``points``
    ((level, quality) pairs in rising order; beyond them the mapping runs parallel to the identity)."""
    level = min(max(level, 1), 100)
    levels = [point[0] for point in points]
    index = bisect.bisect_left(levels, level)
    if index < len(points) and points[index][0] == level:
        quality = points[index][1]
    elif index == 0:
        quality = points[0][1] - (points[0][0] - level)
    elif index == len(points):
        quality = points[-1][1] + (level - points[-1][0])
    else:
        (low_level, low_quality), (high_level, high_quality) = points[index - 1], points[index]
        share = (level - low_level) / (high_level - low_level)
        quality = round(low_quality + share * (high_quality - low_quality))
    return min(max(quality, 1), 100)
