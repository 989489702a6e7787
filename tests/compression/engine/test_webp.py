import struct

import numpy as np
import pytest
import pyvips

from compression.engine import CompressionType, CompressOptions, Format, ResizeSpec, ResizeStrategy, compress
from compression.engine.quality import ssimulacra2
from compression.engine.timeline import frame_map, webp_delays
from compression.engine.webp import is_lossless, level_to_quality

LOSSLESS = CompressOptions(compression_type=CompressionType.LOSSLESS)
LOSSY = CompressOptions(compression_type=CompressionType.LOSSY, level=70)
BALANCED = CompressOptions(compression_type=CompressionType.BALANCED)
DELAYS_MS = [80, 160, 40, 240]


def picture(width: int = 160, height: int = 120, bands: int = 3, shift: int = 0) -> pyvips.Image:
    rng = np.random.default_rng(shift + 5)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    planes = [
        128 + 100 * np.sin((x + shift) / 13.0),
        255 * y / height,
        128 + 90 * np.cos((x + y) / 21.0),
        np.where(x > width / 3, 255.0, 90.0),
    ]
    pixels = np.stack(planes[:bands], axis=-1) + rng.normal(0, 6, (height, width, bands))
    clipped = np.clip(pixels, 0, 255).astype(np.uint8)
    return pyvips.Image.new_from_array(clipped, interpretation="srgb")


def animated(lossless: bool) -> bytes:
    frames = [picture(96, 64, shift=8 * i) for i in range(len(DELAYS_MS))]
    image = pyvips.Image.arrayjoin(frames, across=1).copy()
    image.set_type(pyvips.GValue.gint_type, "page-height", 64)
    image.set_type(pyvips.GValue.array_int_type, "delay", DELAYS_MS)
    image.set_type(pyvips.GValue.gint_type, "loop", 2)
    return image.webpsave_buffer(lossless=lossless, Q=95, effort=0)


def decode(data: bytes) -> pyvips.Image:
    return pyvips.Image.new_from_buffer(data, "", n=-1)


def test_level_to_quality_is_monotonic() -> None:
    qualities = [level_to_quality(level) for level in range(1, 101)]

    assert qualities == sorted(qualities) and (qualities[0], qualities[-1]) == (1, 100)


def test_balanced_on_a_large_still_image_reports_the_score_of_the_bytes_it_returns() -> None:
    # Large enough for the tile proxy search; the score returned is measured on the returned bytes.
    source = picture(2048, 2048).webpsave_buffer(Q=98)

    result = compress(source, options=BALANCED)

    assert result.ssimulacra2 is not None and result.ssimulacra2 >= 80
    assert ssimulacra2(decode(source), decode(result.data)) == pytest.approx(result.ssimulacra2, abs=1e-6)
    assert len(result.data) < len(source)


@pytest.mark.parametrize("lossless", [True, False])
def test_lossless_and_lossy_inputs_are_recognised(lossless: bool) -> None:
    assert is_lossless(picture().webpsave_buffer(lossless=lossless)) is lossless
    assert is_lossless(animated(lossless)) is lossless


@pytest.mark.parametrize("bands", [3, 4])
def test_lossless_keeps_every_pixel(bands: int) -> None:
    source = picture(bands=bands).webpsave_buffer(lossless=True, effort=0)

    result = compress(source, options=LOSSLESS)

    assert result.format is Format.WEBP
    assert len(result.data) <= len(source)
    before, after = decode(source), decode(result.data)
    assert after.bands == before.bands
    assert (before - after).abs().max() == 0


def test_balanced_keeps_a_lossless_input_lossless() -> None:
    source = picture(bands=4).webpsave_buffer(lossless=True, effort=0)

    result = compress(source, options=BALANCED)

    assert is_lossless(result.data)
    assert (decode(source) - decode(result.data)).abs().max() == 0


def test_lossy_type_makes_a_lossless_input_lossy_and_smaller() -> None:
    source = picture().webpsave_buffer(lossless=True, effort=0)

    result = compress(source, options=LOSSY)

    assert not is_lossless(result.data)
    assert len(result.data) < len(source)


def test_lossy_levels_order_the_sizes() -> None:
    source = picture(240, 180).webpsave_buffer(Q=100)

    sizes = [
        len(compress(source, options=CompressOptions(CompressionType.LOSSY, level=level)).data)
        for level in (20, 60)
    ]

    assert sizes[0] < sizes[1] < len(source)


def test_balanced_on_a_lossy_input_meets_the_quality_bar() -> None:
    source = picture(200, 150).webpsave_buffer(Q=98)

    result = compress(source, options=BALANCED)

    assert not is_lossless(result.data)
    assert result.ssimulacra2 is not None and result.ssimulacra2 >= 80
    assert len(result.data) < len(source)


@pytest.mark.parametrize("lossless", [True, False])
@pytest.mark.parametrize("options", [LOSSLESS, LOSSY, BALANCED], ids=["lossless", "lossy", "balanced"])
def test_animation_keeps_frames_delays_and_loop(lossless: bool, options: CompressOptions) -> None:
    source = animated(lossless)

    result = compress(source, options=options)

    image = decode(result.data)
    assert len(result.data) <= len(source)
    assert (image.get("n-pages"), list(image.get("delay")), image.get("loop")) == (4, DELAYS_MS, 2)
    assert (image.width, image.get("page-height")) == (96, 64)


def test_resize_resizes_every_frame_of_an_animation() -> None:
    result = compress(animated(False), options=LOSSY, resize=ResizeSpec(ResizeStrategy.CROP, 40, 40))

    image = decode(result.data)
    assert (image.width, image.get("page-height"), image.get("n-pages")) == (40, 40, 4)
    assert list(image.get("delay")) == DELAYS_MS
    assert (result.width, result.height) == (40, 40)


def test_resize_never_enlarges() -> None:
    source = picture().webpsave_buffer(Q=90)

    result = compress(source, options=LOSSY, resize=ResizeSpec(ResizeStrategy.LANDSCAPE, width=1000))

    assert (decode(result.data).width, decode(result.data).height) == (160, 120)


def test_lossless_on_a_large_lossy_input_returns_the_input() -> None:
    source = picture(1200, 900).webpsave_buffer(Q=75)

    result = compress(source, options=LOSSLESS)

    assert result.unchanged and result.data == source
    assert (result.width, result.height) == (1200, 900)


def chunk(fourcc: bytes, payload: bytes) -> bytes:
    return fourcc + struct.pack("<I", len(payload)) + payload + b"\x00" * (len(payload) & 1)


def assemble(stills: list[pyvips.Image], delays_ms: list[int], lossless: bool) -> bytes:
    """An animated WebP with every frame stored as given (identical neighbours included; libwebp's
    animation encoder would merge them): each frame's bitstream from a still encode, wrapped in an
    ANMF chunk by hand."""
    width, height = stills[0].width, stills[0].height
    canvas = (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    body = chunk(b"VP8X", bytes([0x02, 0, 0, 0]) + canvas) + chunk(b"ANIM", b"\xff\xff\xff\xff\x00\x00")
    for still, delay in zip(stills, delays_ms, strict=True):
        bitstream = still.webpsave_buffer(lossless=lossless, Q=90, effort=0, keep="none")[12:]
        header = b"\x00" * 6 + canvas + delay.to_bytes(3, "little") + bytes([0x02])  # no blending
        body += chunk(b"ANMF", header + bitstream)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


@pytest.mark.parametrize("options", [LOSSLESS, LOSSY, BALANCED], ids=["lossless", "lossy", "balanced"])
def test_identical_consecutive_frames_play_as_before(options: CompressOptions) -> None:
    # Frames 0-7 are identical: the encoder merges them, so the output has fewer frames than the
    # input, and a quality sample by the input's frame index would ask for frames that are gone.
    shifts = [0] * 8 + [8, 16, 24, 32, 40, 48]
    source = assemble([picture(96, 64, shift=s) for s in shifts], [50] * len(shifts), lossless=False)

    result = compress(source, options=options)

    out = webp_delays(result.data)
    assert frame_map(webp_delays(source), out) is not None
    assert sum(out) == 50 * len(shifts)
    assert result.unchanged or len(out) < len(shifts)
    assert decode(result.data).get("loop") == 0
    if options is BALANCED:
        assert result.ssimulacra2 is not None and result.ssimulacra2 >= 80


def test_a_style_of_a_low_quality_webp_is_not_larger_than_it() -> None:
    # Level 100 on a Q20 source spends its bytes on the source's artefacts: re-encoded within it.
    source = picture(1200, 900).webpsave_buffer(Q=20)

    result = compress(
        source,
        options=CompressOptions(compression_type=CompressionType.LOSSY, level=100),
        resize=ResizeSpec(ResizeStrategy.FIT, 1000, 1000),
    )

    assert len(result.data) <= len(source)
    assert (decode(result.data).width, decode(result.data).height) == (1000, 750)


def test_balanced_meets_the_floor_when_the_proxy_guesses_far_too_low(monkeypatch: pytest.MonkeyPatch) -> None:
    # A proxy whose points put 80 far too low: the guided guesses miss, and the search goes on above.
    from compression.engine import webp

    monkeypatch.setattr(webp, "proxy_points", lambda image, keep, deadline: ((5, 95.0), (6, 96.0)))
    source = picture(2048, 2048).webpsave_buffer(Q=98)

    result = compress(source, options=BALANCED)

    assert result.ssimulacra2 is not None and result.ssimulacra2 >= 80
    assert ssimulacra2(decode(source), decode(result.data)) == pytest.approx(result.ssimulacra2, abs=1e-6)
