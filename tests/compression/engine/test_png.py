import numpy as np
import pytest
import pyvips

from compression.engine import CompressionType, CompressOptions, Format, ResizeSpec, ResizeStrategy, compress
from compression.engine.png import level_to_quality, palette_colours
from compression.engine.quality import ssimulacra2

LOSSLESS = CompressOptions(compression_type=CompressionType.LOSSLESS)
BALANCED = CompressOptions(compression_type=CompressionType.BALANCED)


def graphic(width: int = 160, height: int = 120, bands: int = 3, seed: int = 3) -> pyvips.Image:
    """Gradients, flat shapes and a little noise: what a screenshot or illustration looks like."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    planes = [
        255 * x / width,
        128 + 100 * np.sin(y / 9.0),
        np.where((x // 20 + y // 20) % 2 == 0, 40.0, 220.0),
        np.clip(255 * (1.2 - np.hypot(x - width / 2, y - height / 2) / (width / 2)), 0, 255),
    ]
    pixels = np.stack(planes[:bands], axis=-1) + rng.normal(0, 3, (height, width, bands))
    interpretation = "b-w" if bands < 3 else "srgb"
    clipped = np.clip(pixels, 0, 255).astype(np.uint8)
    return pyvips.Image.new_from_array(clipped, interpretation=interpretation)


def deep() -> pyvips.Image:
    """16-bit RGB whose low bytes matter (so it cannot be reduced to 8 bits losslessly)."""
    image = graphic(bands=3).cast("ushort") * 256 + graphic(bands=3, seed=9)
    return image.cast("ushort").copy(interpretation="rgb16")


def decode(data: bytes) -> pyvips.Image:
    return pyvips.Image.new_from_buffer(data, "")


def same_pixels(a: pyvips.Image, b: pyvips.Image) -> bool:
    return (a.width, a.height, a.bands) == (b.width, b.height, b.bands) and (a - b).abs().max() == 0


@pytest.mark.parametrize(
    ("image", "save"),
    [
        pytest.param(graphic(bands=3), {}, id="rgb"),
        pytest.param(graphic(bands=4), {}, id="rgba"),
        pytest.param(graphic(bands=1), {}, id="grey"),
        pytest.param(graphic(bands=2), {}, id="grey-alpha"),
        pytest.param(deep(), {"bitdepth": 16}, id="rgb16"),
        pytest.param(graphic(bands=4), {"palette": True, "dither": 0}, id="palette"),
    ],
)
def test_lossless_keeps_every_pixel_and_is_not_larger(image: pyvips.Image, save: dict) -> None:
    source = image.pngsave_buffer(compression=1, **save)

    result = compress(source, options=LOSSLESS)

    assert result.format is Format.PNG
    assert len(result.data) <= len(source)
    assert same_pixels(decode(result.data), decode(source))
    assert decode(result.data).get("vips-loader") == "pngload_buffer"


def test_lossless_shrinks_a_poorly_compressed_png() -> None:
    source = graphic().pngsave_buffer(compression=0)

    result = compress(source, options=LOSSLESS)

    assert not result.unchanged
    assert len(result.data) < len(source) * 0.7


def test_lossless_on_an_already_optimal_png_returns_the_input() -> None:
    optimal = compress(graphic().pngsave_buffer(compression=0), options=LOSSLESS).data

    result = compress(optimal, options=LOSSLESS)

    assert result.unchanged
    assert result.data == optimal


@pytest.mark.parametrize("bands", [1, 3, 4])
def test_lossy_makes_a_palette_image_of_the_same_size(bands: int) -> None:
    source = graphic(bands=bands).pngsave_buffer(compression=1)

    result = compress(source, options=CompressOptions(compression_type=CompressionType.LOSSY, level=60))

    decoded = decode(result.data)
    assert (decoded.width, decoded.height) == (160, 120)
    assert decoded.get("bits-per-sample") <= 8
    assert decoded.get("palette") if decoded.get_typeof("palette") else decoded.bands == 1
    assert len(result.data) < len(source)
    assert (decoded.bands in (2, 4)) == (bands == 4)


def test_lossy_level_to_quality_is_monotonic_and_sizes_follow() -> None:
    source = graphic(320, 240).pngsave_buffer(compression=1)

    sizes = [
        len(
            compress(
                source, options=CompressOptions(compression_type=CompressionType.LOSSY, level=level)
            ).data
        )
        for level in (5, 40, 100)
    ]

    qualities = [level_to_quality(level) for level in range(1, 101)]
    assert qualities == sorted(qualities)
    assert (level_to_quality(1), level_to_quality(100)) == (1, 100)
    assert sizes == sorted(sizes)


def test_balanced_reaches_the_quality_bar_and_reports_its_score() -> None:
    image = graphic(200, 150, bands=4)
    source = image.pngsave_buffer(compression=1)

    result = compress(source, options=BALANCED)

    assert result.ssimulacra2 is not None and result.ssimulacra2 >= 80
    assert len(result.data) < len(source)
    assert ssimulacra2(decode(source), decode(result.data)) >= 79


def test_balanced_keeps_a_few_colour_image_lossless_when_that_is_smaller() -> None:
    stripes = (pyvips.Image.xyz(240, 160)[0] // 40 * 40).cast("uchar").bandjoin([30, 90])
    source = stripes.copy(interpretation="srgb").pngsave_buffer(compression=0)

    result = compress(source, options=BALANCED)

    assert same_pixels(decode(result.data), decode(source))


def sky_over_walls(width: int = 1200, height: int = 800) -> pyvips.Image:
    """A smooth sky of some thousand colours above two flat walls: libimagequant's low settings pick
    a handful of colours and dither the sky into noise that takes more bytes than the input; the
    full palette does not."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    r = np.hypot(x - width * 0.8, y + height * 0.3) / width
    pixels = np.stack(
        [10 + 20 * r, 30 + 30 * r + 8 * np.sin(x / 150), 80 + 40 * r + 6 * np.cos(y / 110)], axis=-1
    )
    pixels[y > height / 2 + (x - width * 0.6) * 0.2] = (2, 80, 110)
    pixels[(y > height / 2 - (x - width * 0.6) * 0.4) & (x > width * 0.6)] = (215, 240, 225)
    return pyvips.Image.new_from_array(pixels).cast("uchar").copy(interpretation="srgb")


def test_balanced_goes_on_to_the_full_palette_when_a_few_dithered_colours_take_more_bytes() -> None:
    source = sky_over_walls().pngsave_buffer(compression=9)
    lossless = compress(source, options=LOSSLESS)

    result = compress(source, options=BALANCED)

    assert palette_colours(result.data) > 0
    assert len(result.data) < len(lossless.data)
    assert result.ssimulacra2 is not None and result.ssimulacra2 >= 80
    assert ssimulacra2(decode(source), decode(result.data)) >= 79


def test_resize_shrinks_and_never_enlarges() -> None:
    source = graphic(160, 120).pngsave_buffer()

    small = compress(source, options=LOSSLESS, resize=ResizeSpec(ResizeStrategy.FIT, 80, 80))
    large = compress(source, options=LOSSLESS, resize=ResizeSpec(ResizeStrategy.FIT, 800, 800))

    assert (decode(small.data).width, decode(small.data).height) == (80, 60)
    assert (small.width, small.height) == (80, 60)
    assert (decode(large.data).width, decode(large.data).height) == (160, 120)


def test_resize_fill_pads_with_transparency_when_the_image_has_alpha() -> None:
    source = graphic(160, 80, bands=4).pngsave_buffer()

    result = compress(source, options=LOSSLESS, resize=ResizeSpec(ResizeStrategy.FILL, 100, 100))

    decoded = decode(result.data)
    assert (decoded.width, decoded.height, decoded.bands) == (100, 100, 4)
    assert decoded.getpoint(50, 2)[3] == 0


def test_lossy_is_never_larger_than_lossless() -> None:
    # A smooth two-way gradient: tiny with PNG filters, noisy (dithered) as a palette.
    xy = pyvips.Image.xyz(240, 160)
    image = xy[0].bandjoin([xy[1], xy[0] // 2 + xy[1] // 2]).cast("uchar")
    source = image.copy(interpretation="srgb").pngsave_buffer(compression=0)

    lossy = compress(source, options=CompressOptions(compression_type=CompressionType.LOSSY, level=95))
    lossless = compress(source, options=LOSSLESS)

    assert len(lossy.data) <= len(lossless.data)


@pytest.mark.parametrize("kind", [CompressionType.BALANCED, CompressionType.LOSSY, CompressionType.LOSSLESS])
def test_resized_png_is_encoded_for_every_type(kind: CompressionType) -> None:
    band = pyvips.Image.xyz(120, 80).extract_band(0).cast("uchar")
    data = band.bandjoin([band, band.rot180()]).copy(interpretation="srgb").pngsave_buffer()
    spec = ResizeSpec(ResizeStrategy.FIT, 40, 40, None)
    result = compress(data, options=CompressOptions(kind), resize=spec)
    decoded = pyvips.Image.new_from_buffer(result.data, "")
    assert (decoded.width, decoded.height) == (40, 27) == (result.width, result.height)


def drawing(width: int = 900, height: int = 600) -> pyvips.Image:
    """Flat-coloured discs on a plain background: an illustration saved as a palette PNG."""
    y, x = np.mgrid[0:height, 0:width]
    pixels = np.zeros((height, width, 3), np.uint8) + np.array([240, 240, 235], np.uint8)
    for i in range(40):
        cx, cy, r = (i * 97) % width, (i * 61) % height, 20 + (i * 13) % 60
        pixels[(x - cx) ** 2 + (y - cy) ** 2 < r * r] = [(i * 53) % 256, (i * 101) % 256, (i * 29) % 256]
    return pyvips.Image.new_from_array(pixels, interpretation="srgb")


@pytest.mark.parametrize("kind", [CompressionType.LOSSLESS, CompressionType.LOSSY, CompressionType.BALANCED])
@pytest.mark.parametrize(
    "spec",
    [ResizeSpec(ResizeStrategy.FIT, 600, 600), ResizeSpec(ResizeStrategy.FIT, 100, 100)],
    ids=["600", "100"],
)
def test_a_style_of_a_palette_png_is_a_palette_png_no_larger_than_it(
    kind: CompressionType, spec: ResizeSpec
) -> None:
    source = drawing().pngsave_buffer(palette=True, Q=100, dither=0)

    result = compress(source, options=CompressOptions(compression_type=kind), resize=spec)

    out = pyvips.Image.new_from_buffer(result.data, "")
    assert out.get_typeof("palette") and out.get("palette")
    assert len(result.data) <= len(source)


@pytest.mark.parametrize("kind", [CompressionType.LOSSLESS, CompressionType.LOSSY, CompressionType.BALANCED])
def test_a_png_without_its_end_chunk_is_compressed(kind: CompressionType) -> None:
    # libpng decodes it (the image data is complete); oxipng refuses it.
    complete = graphic().pngsave_buffer(compression=1)
    source = complete[: complete.rindex(b"IEND") - 4]

    result = compress(source, options=CompressOptions(compression_type=kind))

    out = pyvips.Image.new_from_buffer(result.data, "", fail_on="error")
    assert (out.width, out.height) == (160, 120)
    assert len(result.data) <= len(source)
    if kind == "lossless":
        assert (out - pyvips.Image.new_from_buffer(complete, "")).abs().max() == 0
