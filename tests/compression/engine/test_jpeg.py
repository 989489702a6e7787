from dataclasses import replace

import numpy as np
import pytest
import pyvips

from compression.engine import CompressionType, CompressOptions, Format, ResizeSpec, ResizeStrategy, compress
from compression.engine import jpeg as jpeg_module
from compression.engine.jpeg import jpegli_encode, level_to_quality
from compression.engine.jpeg_quality import estimate_quality
from compression.engine.quality import ssimulacra2
from compression.engine.resize import resize_image, target_geometry
from compression.engine.search import SearchHint


def photo(width: int = 320, height: int = 240, seed: int = 1) -> pyvips.Image:
    """Smooth colour gradients plus fine noise: something a JPEG encoder has to work on."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    rgb = np.stack(
        [
            128 + 90 * np.sin(x / 37.0) * np.cos(y / 23.0),
            128 + 80 * np.cos((x + y) / 51.0),
            128 + 70 * np.sin(y / 17.0),
        ],
        axis=-1,
    )
    rgb += rng.normal(0, 12, rgb.shape)
    image = pyvips.Image.new_from_array(np.clip(rgb, 0, 255).astype(np.uint8), interpretation="srgb")
    return image.gaussblur(0.6).cast("uchar")


def jpeg(image: pyvips.Image, quality: int = 95, **kwargs: object) -> bytes:
    return image.jpegsave_buffer(Q=quality, **kwargs)


def decode(data: bytes) -> pyvips.Image:
    return pyvips.Image.new_from_buffer(data, "")


def identical(a: pyvips.Image, b: pyvips.Image) -> bool:
    return (a.width, a.height, a.bands) == (b.width, b.height, b.bands) and (a - b).abs().max() == 0


@pytest.mark.parametrize(
    ("level", "quality"), [(1, 1), (10, 10), (50, 50), (65, 65), (80, 80), (95, 95), (100, 100)]
)
def test_level_to_quality_table(level: int, quality: int) -> None:
    assert level_to_quality(level) == quality


def test_level_to_quality_is_monotonic_and_sizes_follow() -> None:
    source = jpeg(photo())

    sizes = [
        len(
            compress(
                source, options=CompressOptions(compression_type=CompressionType.LOSSY, level=level)
            ).data
        )
        for level in (20, 50, 80)
    ]

    assert [level_to_quality(level) for level in range(1, 101)] == sorted(
        level_to_quality(level) for level in range(1, 101)
    )
    assert sizes == sorted(sizes)


def test_lossy_decodes_to_same_size_and_is_smaller() -> None:
    source = jpeg(photo(), 98)

    result = compress(source, options=CompressOptions(compression_type=CompressionType.LOSSY, level=70))

    out = decode(result.data)
    assert out.get("vips-loader") == "jpegload_buffer"
    assert (out.width, out.height) == (320, 240)
    assert len(result.data) < len(source)
    assert not result.unchanged


def test_lossless_keeps_pixels_identical() -> None:
    source = jpeg(photo(), 92, optimize_coding=False)

    result = compress(source, options=CompressOptions(compression_type=CompressionType.LOSSLESS))

    assert len(result.data) < len(source)
    assert identical(decode(result.data), decode(source))


def test_lossless_strip_drops_exif_but_keeps_orientation_and_icc() -> None:
    image = photo().icc_transform("srgb", input_profile="srgb").cast("uchar").copy()
    image.set_type(pyvips.GValue.gint_type, "orientation", 6)
    source = jpeg(image, 92, optimize_coding=False)
    assert decode(source).get_typeof("exif-data")

    result = compress(source, options=CompressOptions(compression_type=CompressionType.LOSSLESS))

    out = decode(result.data)
    assert identical(out, decode(source))
    assert int(out.get("orientation")) == 6
    assert out.get_typeof("icc-profile-data")
    assert (result.width, result.height) == (240, 320)


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_lossy_strip_applies_orientation(orientation: int) -> None:
    image = photo().copy()
    image.set_type(pyvips.GValue.gint_type, "orientation", orientation)
    source = jpeg(image)

    result = compress(source, options=CompressOptions(compression_type=CompressionType.LOSSY, level=60))

    out = decode(result.data)
    expected = decode(source).autorot()
    assert (out.width, out.height) == (expected.width, expected.height)
    assert out.get_typeof("orientation") == 0 or int(out.get("orientation")) == 1
    assert ssimulacra2(expected, out) > 50


def test_lossy_strip_keeps_icc_profile() -> None:
    source = jpeg(photo().icc_transform("srgb", input_profile="srgb").cast("uchar"))

    out = decode(
        compress(source, options=CompressOptions(compression_type=CompressionType.LOSSY, level=70)).data
    )

    assert out.get_typeof("icc-profile-data")


def test_cmyk_jpeg_keeps_its_colours() -> None:
    rgb = photo()
    source = jpeg(rgb.icc_transform("cmyk", input_profile="srgb"), 95)
    assert decode(source).interpretation == "cmyk"

    result = compress(source, options=CompressOptions(compression_type=CompressionType.LOSSY, level=85))

    out = decode(result.data)
    expected = decode(source).icc_transform("srgb", embedded=True, input_profile="cmyk")
    out_srgb = out.icc_transform("srgb", embedded=True) if out.interpretation == "cmyk" else out
    assert abs(out_srgb.avg() - expected.avg()) < 3
    assert ssimulacra2(expected.cast("uchar"), out_srgb.cast("uchar")) > 60


@pytest.mark.parametrize("make", [photo, lambda: photo().colourspace("b-w")])
def test_balanced_reaches_score_80_at_full_resolution(make) -> None:  # type: ignore[no-untyped-def]
    image = make()
    source = jpeg(image, 98)

    result = compress(source, options=CompressOptions(compression_type=CompressionType.BALANCED))

    out = decode(result.data)
    assert (out.width, out.height) == (image.width, image.height)
    assert len(result.data) < len(source)
    assert result.ssimulacra2 is not None and result.ssimulacra2 >= 80
    assert ssimulacra2(decode(source), out) >= 80


def test_balanced_is_not_larger_than_mozjpeg_at_the_score_it_reached() -> None:
    source = jpeg(photo(seed=7), 98)

    result = compress(source, options=CompressOptions(compression_type=CompressionType.BALANCED))
    lossy_at_90 = compress(source, options=CompressOptions(compression_type=CompressionType.LOSSY, level=90))

    assert result.ssimulacra2 is not None
    assert len(result.data) < len(lossy_at_90.data)


def test_jpegli_encode_carries_the_icc_profile() -> None:
    image = photo().icc_transform("srgb", input_profile="srgb").cast("uchar")
    profile = image.get("icc-profile-data")

    out = decode(jpegli_encode(image, 80, profile, None))

    assert out.get("icc-profile-data") == profile


def test_balanced_output_is_progressive_and_keeps_the_icc_profile() -> None:
    image = photo(seed=5).icc_transform("srgb", input_profile="srgb").cast("uchar")
    source = jpeg(image, 98, keep="icc")

    out = decode(compress(source, options=CompressOptions(compression_type=CompressionType.BALANCED)).data)

    assert out.get("jpeg-multiscan") == 1
    assert out.get("icc-profile-data") == image.get("icc-profile-data")


def test_never_larger_returns_the_input() -> None:
    # Already as small as the lossless pass makes it: its own output.
    source = compress(jpeg(photo()), options=CompressOptions(compression_type=CompressionType.LOSSLESS)).data

    result = compress(source, options=CompressOptions(compression_type=CompressionType.LOSSLESS))

    assert result.unchanged
    assert result.data == source


def test_balanced_result_type_is_reported() -> None:
    options = CompressOptions(compression_type=CompressionType.BALANCED)

    assert options.compression_type is CompressionType.BALANCED


def _large_photo() -> pyvips.Image:
    # Above PROXY_MIN_PIXELS, so balanced searches on the proxy mosaic and checks at full resolution.
    return photo(1280, 1024, seed=3)


def test_balanced_on_a_proxy_still_scores_80_at_full_resolution() -> None:
    image = _large_photo()
    assert image.width * image.height > jpeg_module.PROXY_MIN_PIXELS
    source = jpeg(image, 98)

    result = compress(source, options=CompressOptions(compression_type=CompressionType.BALANCED))

    out = decode(result.data)
    score = ssimulacra2(decode(source), out)
    assert score >= 80
    assert result.ssimulacra2 == pytest.approx(score, abs=1e-6)
    assert len(result.data) < len(source)


def test_balanced_raises_the_quality_when_the_proxy_overestimates(monkeypatch: pytest.MonkeyPatch) -> None:
    # The proxy is taken to score 30 below the full image, so the first full-resolution quality fails
    # and must be raised.
    monkeypatch.setattr(jpeg_module, "PROXY_OFFSET", 30.0)
    source = jpeg(_large_photo(), 98)
    proxy = jpeg_module.proxy_mosaic(decode(source))
    assert proxy.width * proxy.height <= jpeg_module.PROXY_PIXELS

    result = compress(source, options=CompressOptions(compression_type=CompressionType.BALANCED))

    score = ssimulacra2(decode(source), decode(result.data))
    assert score >= 80
    assert result.ssimulacra2 == pytest.approx(score, abs=1e-6)


def test_a_large_balanced_jpeg_is_searched_on_fresh_decodes_with_the_same_result(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Above LARGE_IMAGE_PIXELS the search encodes read a fresh sequential decode of the input, not the
    # decoded image (whose pages would stay resident): the same pixels, so the same output and score
    # as the search on the decoded image itself.
    monkeypatch.setattr(jpeg_module, "LARGE_IMAGE_PIXELS", 500_000)
    source = jpeg(_large_photo(), 98)
    sequential_loads = []
    real_load = jpeg_module.load

    def load(data: bytes, fmt: Format, *, sequential: bool = True, rotate: bool = True) -> pyvips.Image:
        sequential_loads.extend([1] if sequential else [])
        return real_load(data, fmt, sequential=sequential, rotate=rotate)

    monkeypatch.setattr(jpeg_module, "load", load)

    result = compress(source, options=CompressOptions(compression_type=CompressionType.BALANCED))

    expected, score, _ = jpeg_module.balanced(
        decode(source), "icc", None, cap=estimate_quality(source) or 100
    )
    assert sequential_loads
    assert result.data == expected
    assert result.ssimulacra2 == score


def test_balanced_falls_back_to_mozjpeg_where_jpegli_cannot_reach_80() -> None:
    # A blue sawtooth: jpegli smooths the blue channel away even at its top quality (score < 30).
    x = pyvips.Image.xyz(120, 80)
    blue = ((x[0] + x[1]) * 3 % 256).cast("uchar")
    image = (x[0] * 2).cast("uchar").bandjoin([(x[1] * 3).cast("uchar"), blue]).copy(interpretation="srgb")
    source = jpeg(image, 95)
    assert ssimulacra2(decode(source), decode(jpegli_encode(decode(source), 98, None, None))) < 80

    result = compress(source, options=CompressOptions(compression_type=CompressionType.BALANCED))

    assert result.ssimulacra2 is not None and result.ssimulacra2 >= 80
    assert ssimulacra2(decode(source), decode(result.data)) == pytest.approx(result.ssimulacra2, abs=1e-6)


@pytest.mark.parametrize("kind", [CompressionType.LOSSY, CompressionType.LOSSLESS, CompressionType.BALANCED])
@pytest.mark.parametrize(
    "spec",
    [
        ResizeSpec(ResizeStrategy.FIT, 1100, 1100),
        ResizeSpec(ResizeStrategy.CROP, 900, 900),
        ResizeSpec(ResizeStrategy.FILL, 2200, 2200),
    ],
    ids=["fit", "crop", "fill"],
)
def test_a_style_of_a_low_quality_jpeg_is_never_larger_than_it(
    kind: CompressionType, spec: ResizeSpec
) -> None:
    # A Q30 source re-encoded at level 100 (or at the resized "lossless" 95) would spend its bytes
    # reproducing the source's block artefacts: the style used to be several times larger.
    source = jpeg(photo(2000, 1500), 30)

    result = compress(source, options=CompressOptions(compression_type=kind, level=100), resize=spec)

    assert len(result.data) <= len(source)
    assert (decode(result.data).width, decode(result.data).height) == (result.width, result.height)


def test_lossy_100_on_a_low_quality_source_is_not_larger() -> None:
    source = jpeg(photo(800, 600), 30)

    result = compress(source, options=CompressOptions(compression_type=CompressionType.LOSSY, level=100))

    assert len(result.data) <= len(source)
    assert (estimate_quality(result.data) or 100) <= 30


def _style_reference(source: bytes, spec: ResizeSpec) -> pyvips.Image:
    """The resized pixels a style is scored against."""
    head = decode(source)
    geometry = target_geometry(head.width, head.height, spec)
    return jpeg_module.prepare(resize_image(source, Format.JPEG, geometry, spec, None)).copy_memory()


@pytest.mark.parametrize(
    "spec",
    [ResizeSpec(ResizeStrategy.FIT, 800, 800), ResizeSpec(ResizeStrategy.CROP, 500, 500)],
    ids=["fit", "crop"],
)
def test_a_style_searched_from_the_original_hint_scores_80_in_fewer_evaluations(spec: ResizeSpec) -> None:
    source = jpeg(_large_photo(), 98)
    options = CompressOptions(compression_type=CompressionType.BALANCED)
    original = compress(source, options=options)
    assert original.search is not None and original.search.encoder == "jpegli"

    plain = compress(source, options=options, resize=spec)
    hinted = compress(source, options=replace(options, hint=original.search), resize=spec)

    assert plain.search is not None and hinted.search is not None
    # The style needs a lower quality than the original: one step along the original's points gets
    # there, and at most one more checks the quality below.
    assert hinted.search.evaluations <= 3
    assert hinted.search.evaluations < plain.search.evaluations
    score = ssimulacra2(_style_reference(source, spec), decode(hinted.data))
    assert score >= 80
    assert hinted.ssimulacra2 == pytest.approx(score, abs=1e-6)
    assert len(hinted.data) <= len(plain.data) * 1.03


def test_a_style_with_a_misleading_hint_still_scores_80() -> None:
    # The hint claims quality 30 scores 99: the style's first evaluation fails, and it steps up.
    source = jpeg(_large_photo(), 98)
    spec = ResizeSpec(ResizeStrategy.FIT, 800, 800)
    hint = SearchHint("jpegli", 30, ((30, 99.0),))

    result = compress(
        source, options=CompressOptions(compression_type=CompressionType.BALANCED, hint=hint), resize=spec
    )

    score = ssimulacra2(_style_reference(source, spec), decode(result.data))
    assert score >= 80
    assert result.ssimulacra2 == pytest.approx(score, abs=1e-6)
    assert result.search is not None and result.search.setting > 30


def test_a_hint_from_another_encoder_is_ignored() -> None:
    source = jpeg(photo(seed=4), 98)
    options = CompressOptions(compression_type=CompressionType.BALANCED)

    plain = compress(source, options=options)
    other = compress(source, options=replace(options, hint=SearchHint("webp", 30, ((30, 99.0),))))

    assert other.data == plain.data
    assert other.search == plain.search


@pytest.mark.parametrize("subsample", ["on", "off"])
def test_balanced_on_a_heavily_compressed_jpeg_meets_the_floor_or_keeps_every_pixel(subsample: str) -> None:
    # Nothing up to the source's own quality (50) reaches 80 when it is re-encoded: the answer is the
    # lossless transcode, not the best failing candidate.
    source = jpeg(photo(150, 104), 50, subsample_mode=subsample)

    result = compress(source, options=CompressOptions(compression_type=CompressionType.BALANCED))

    assert len(result.data) <= len(source)
    assert result.ssimulacra2 is not None and result.ssimulacra2 >= 80
    assert ssimulacra2(decode(source), decode(result.data)) >= 80


def test_a_balanced_style_of_a_low_quality_jpeg_meets_the_floor() -> None:
    source = jpeg(photo(1600, 1200), 40)
    spec = ResizeSpec(ResizeStrategy.FIT, 800, 800)

    result = compress(source, options=CompressOptions(compression_type=CompressionType.BALANCED), resize=spec)

    assert result.ssimulacra2 is not None and result.ssimulacra2 >= 80
    assert ssimulacra2(_style_reference(source, spec), decode(result.data)) >= 80
