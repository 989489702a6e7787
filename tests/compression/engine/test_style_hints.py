"""A resize style starts its balanced search from what the original's search learnt
(``CompressOptions.hint``), for the WebP, PNG and GIF codecs (JPEG: test_jpeg.py)."""

from dataclasses import replace

import numpy as np
import pytest
import pyvips

from compression.engine import CompressionType, CompressOptions, ResizeSpec, ResizeStrategy, compress
from compression.engine.search import SearchHint

BALANCED = CompressOptions(compression_type=CompressionType.BALANCED)
STYLE = ResizeSpec(ResizeStrategy.FIT, 360, 360)


def scene(width: int = 720, height: int = 540, seed: int = 11) -> pyvips.Image:
    """Smooth gradients, hard-edged shapes and mild noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    planes = [
        128 + 100 * np.sin(x / 23.0),
        255 * y / height,
        np.where((x // 60 + y // 60) % 2 == 0, 60.0, 200.0),
    ]
    pixels = np.stack(planes, axis=-1) + rng.normal(0, 4, (height, width, 3))
    return pyvips.Image.new_from_array(np.clip(pixels, 0, 255).astype(np.uint8), interpretation="srgb")


SOURCES = {
    "webp": (lambda: scene().webpsave_buffer(Q=95), "libwebp"),
    "png": (lambda: scene().pngsave_buffer(compression=6), "libimagequant"),
    "gif": (lambda: scene(240, 180).gifsave_buffer(effort=1, dither=0), "gifsicle"),
}


def settings_tried(result_search: SearchHint) -> list[int]:
    return [setting for setting, _ in result_search.points]


@pytest.mark.parametrize("fmt", SOURCES)
def test_the_original_search_is_handed_on_and_the_style_starts_from_it(fmt: str) -> None:
    make, encoder = SOURCES[fmt]
    source = make()
    original = compress(source, options=BALANCED)
    assert original.search is not None and original.search.encoder == encoder

    plain = compress(source, options=BALANCED, resize=STYLE)
    hinted = compress(source, options=replace(BALANCED, hint=original.search), resize=STYLE)

    assert hinted.search is not None and plain.search is not None
    assert original.search.setting in settings_tried(hinted.search)
    assert hinted.search.evaluations <= plain.search.evaluations
    assert hinted.ssimulacra2 is not None and hinted.ssimulacra2 >= 80


@pytest.mark.parametrize("fmt", SOURCES)
def test_a_misleading_hint_is_only_a_first_guess(fmt: str) -> None:
    # The hint claims a setting far off scores 99: the style still reaches the floor.
    make, encoder = SOURCES[fmt]
    hint = SearchHint(encoder, 55, ((55, 99.0),))

    result = compress(make(), options=replace(BALANCED, hint=hint), resize=STYLE)

    assert result.search is not None and 55 in settings_tried(result.search)
    assert result.ssimulacra2 is not None and result.ssimulacra2 >= 80


@pytest.mark.parametrize("fmt", SOURCES)
def test_a_hint_from_another_encoder_is_ignored(fmt: str) -> None:
    make, _ = SOURCES[fmt]
    source = make()

    plain = compress(source, options=BALANCED, resize=STYLE)
    other = compress(
        source, options=replace(BALANCED, hint=SearchHint("jpegli", 31, ((31, 99.0),))), resize=STYLE
    )

    assert other.data == plain.data
