"""``CompressOptions.target``: the SSIMULACRA2 floor of ``balanced`` set by the caller. Every raster codec
reaches the target it is given (scored independently of the search), and a higher target never gives
fewer bytes."""

import numpy as np
import pytest
import pyvips

from compression.engine import CompressionType, CompressOptions, InvalidSpec, compress
from compression.engine.options import MAX_TARGET, MIN_TARGET
from compression.engine.quality import ssimulacra2


def scene(width: int = 480, height: int = 360, seed: int = 5) -> pyvips.Image:
    """Smooth gradients, hard-edged shapes and mild noise: every encoder has something to give up."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    planes = [
        128 + 100 * np.sin(x / 23.0) * np.cos(y / 31.0),
        255 * y / height,
        np.where((x // 48 + y // 48) % 2 == 0, 60.0, 200.0),
    ]
    pixels = np.stack(planes, axis=-1) + rng.normal(0, 6, (height, width, 3))
    return pyvips.Image.new_from_array(np.clip(pixels, 0, 255).astype(np.uint8), interpretation="srgb")


SOURCES = {
    "jpeg": lambda: scene().jpegsave_buffer(Q=95),
    "webp": lambda: scene().webpsave_buffer(Q=95),
    "png": lambda: scene().pngsave_buffer(compression=6),
    "gif": lambda: scene(240, 180).gifsave_buffer(effort=1, dither=0),
}


def decode(data: bytes) -> pyvips.Image:
    return pyvips.Image.new_from_buffer(data, "").colourspace("srgb")


def balanced(target: float) -> CompressOptions:
    return CompressOptions(compression_type=CompressionType.BALANCED, target=target)


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_each_codec_reaches_the_target_it_is_given_and_a_higher_one_costs_bytes(kind: str) -> None:
    source = SOURCES[kind]()
    low, high = compress(source, options=balanced(60)), compress(source, options=balanced(92))

    for target, result in ((60, low), (92, high)):
        assert result.ssimulacra2 is not None and result.ssimulacra2 >= target
        assert ssimulacra2(decode(source), decode(result.data)) >= target - 1.0  # the search's own metric
    assert len(low.data) <= len(high.data)


def test_a_low_target_gives_a_smaller_jpeg_than_the_default() -> None:
    source = SOURCES["jpeg"]()

    default = compress(source, options=CompressOptions(compression_type=CompressionType.BALANCED))
    low = compress(source, options=balanced(55))

    assert default.ssimulacra2 is not None and default.ssimulacra2 >= 80
    assert len(low.data) < len(default.data)
    assert low.ssimulacra2 is not None and 55 <= low.ssimulacra2 < default.ssimulacra2


@pytest.mark.parametrize("target", [MIN_TARGET - 1, MAX_TARGET + 1, True, "80"])
def test_a_target_outside_the_range_is_refused(target: object) -> None:
    with pytest.raises(InvalidSpec):
        CompressOptions(compression_type=CompressionType.BALANCED, target=target)  # type: ignore[arg-type]
