import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import pyvips

from compression.engine import (
    CompressionType,
    CompressOptions,
    CorruptInput,
    EngineLimits,
    Format,
    InputTooLarge,
    ResizeSpec,
    ResizeStrategy,
    compress,
    probe,
)
from compression.engine.gif import level_to_colors, level_to_lossy
from compression.engine.timeline import gif_delays

LOSSLESS = CompressOptions(compression_type=CompressionType.LOSSLESS)
LOSSY = CompressOptions(compression_type=CompressionType.LOSSY, level=40)
BALANCED = CompressOptions(compression_type=CompressionType.BALANCED)
DELAYS_MS = [100, 50, 200, 70, 120, 90, 300, 40]


def animation(width: int = 96, height: int = 64, delays: list[int] = DELAYS_MS, loop: int = 3) -> bytes:
    """A moving disc over a gradient, one frame per delay, saved without optimisation effort."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    frames = []
    for i in range(len(delays)):
        disc = np.hypot(x - (10 + i * width / len(delays)), y - height / 2) < height / 4
        rgb = np.stack([255 * x / width, 255 * y / height, np.where(disc, 250.0, 30.0)], axis=-1)
        frames.append(rgb.astype(np.uint8))
    image = pyvips.Image.new_from_array(np.concatenate(frames), interpretation="srgb")
    image = image.copy()
    image.set_type(pyvips.GValue.gint_type, "page-height", height)
    image.set_type(pyvips.GValue.array_int_type, "delay", delays)
    image.set_type(pyvips.GValue.gint_type, "loop", loop)
    return image.gifsave_buffer(effort=1, dither=0)


def frames_of(data: bytes) -> pyvips.Image:
    return pyvips.Image.new_from_buffer(data, "", n=-1)


def timing(data: bytes) -> tuple[int, list[int], int]:
    image = frames_of(data)
    return image.get("n-pages"), list(image.get("delay")), image.get("loop")


def many_frames_gif(frames: int) -> bytes:
    """A 1x1 GIF with ``frames`` frames, assembled by hand (a few bytes per frame)."""
    head = b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x4c\x01\x00"
    return head + frame * frames + b"\x3b"


@pytest.mark.parametrize("options", [LOSSLESS, LOSSY, BALANCED], ids=["lossless", "lossy", "balanced"])
def test_animation_keeps_frames_delays_and_loop(options: CompressOptions) -> None:
    source = animation()

    result = compress(source, options=options)

    assert result.format is Format.GIF
    assert len(result.data) <= len(source)
    assert timing(result.data) == (len(DELAYS_MS), DELAYS_MS, 3)
    assert (result.width, result.height) == (96, 64)


def test_lossless_keeps_every_frame_pixel() -> None:
    source = animation()

    result = compress(source, options=LOSSLESS)

    before, after = frames_of(source), frames_of(result.data)
    assert (after.width, after.height) == (before.width, before.height)
    assert (before - after).abs().max() == 0


def test_lossy_is_smaller_and_levels_are_monotonic() -> None:
    source = animation(160, 120)

    low = compress(source, options=CompressOptions(compression_type=CompressionType.LOSSY, level=10))
    high = compress(source, options=CompressOptions(compression_type=CompressionType.LOSSY, level=90))

    assert len(low.data) < len(high.data) <= len(source)
    lossy = [level_to_lossy(level) for level in range(1, 101)]
    colors = [level_to_colors(level) for level in range(1, 101)]
    assert lossy == sorted(lossy, reverse=True) and (lossy[0], lossy[-1]) == (200, 0)
    assert colors == sorted(colors) and colors[-1] == 256


def test_balanced_reports_a_score_of_at_least_80() -> None:
    result = compress(animation(160, 120), options=BALANCED)

    assert result.ssimulacra2 is not None and result.ssimulacra2 >= 80


def test_balanced_on_a_still_that_lossy_lzw_ruins_returns_the_lossless_output() -> None:
    # Per-pixel noise: every --lossy level smears it far below 80, so the search gives up at once.
    noise = np.random.default_rng(7).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    source = pyvips.Image.new_from_array(noise, interpretation="srgb").gifsave_buffer(effort=1, dither=0)

    result = compress(source, options=BALANCED)

    assert result.ssimulacra2 == 100.0
    assert len(result.data) <= len(compress(source, options=LOSSLESS).data)
    decoded, original = frames_of(result.data), frames_of(source)
    assert decoded.numpy().tobytes() == original.numpy().tobytes()


def test_balanced_on_a_long_animation_keeps_timing_scores_80_and_is_no_larger_than_lossless() -> None:
    delays = [40 + 10 * (i % 7) for i in range(30)]  # more frames than are sampled for the score
    data = animation(160, 120, delays=delays)

    balanced = compress(data, options=BALANCED)
    lossless = compress(data, options=LOSSLESS)

    assert timing(balanced.data) == timing(data)
    assert balanced.ssimulacra2 is not None and balanced.ssimulacra2 >= 80
    assert len(balanced.data) <= len(lossless.data)


@pytest.mark.parametrize(
    ("spec", "size"),
    [
        (ResizeSpec(ResizeStrategy.FIT, 48, 48), (48, 32)),
        (ResizeSpec(ResizeStrategy.CROP, 40, 40), (40, 40)),
        (ResizeSpec(ResizeStrategy.FILL, 60, 60), (60, 60)),
        (ResizeSpec(ResizeStrategy.FIT, 500, 500), (96, 64)),
    ],
)
def test_resize_resizes_every_frame_and_keeps_timing(spec: ResizeSpec, size: tuple[int, int]) -> None:
    result = compress(animation(), options=LOSSLESS, resize=spec)

    image = frames_of(result.data)
    assert (image.width, image.get("page-height")) == size
    assert (result.width, result.height) == size
    assert timing(result.data) == (len(DELAYS_MS), DELAYS_MS, 3)


def test_metadata_comments_are_stripped() -> None:
    source = animation()
    with_comment = source[:-1] + b"\x21\xfe\x0bhello world\x00" + source[-1:]

    result = compress(with_comment, options=LOSSLESS)

    assert b"hello world" not in result.data


def test_a_gif_with_5000_frames_is_refused_before_decoding() -> None:
    data = many_frames_gif(5000)

    with pytest.raises(InputTooLarge):
        compress(data, options=LOSSLESS)
    with pytest.raises(InputTooLarge):
        probe(data, limits=EngineLimits())


def test_a_gif_within_the_frame_limit_is_accepted() -> None:
    data = many_frames_gif(20)

    result = compress(data, options=LOSSLESS)

    assert frames_of(result.data).get("n-pages") == 20


def test_a_truncated_gif_is_corrupt() -> None:
    data = animation()

    with pytest.raises(CorruptInput):
        compress(data[: len(data) // 2], options=LOSSLESS)


def assemble(frames: list[np.ndarray], delays_cs: list[int], tmp_path: Path) -> bytes:
    """An animation with every frame stored as given (identical neighbours included): each frame
    saved alone by libvips, joined by gifsicle without any optimisation."""
    paths = []
    for index, pixels in enumerate(frames):
        path = tmp_path / f"frame-{index}.gif"
        pyvips.Image.new_from_array(pixels, interpretation="srgb").gifsave(str(path), effort=1, dither=0)
        paths.append(path)
    gifsicle = Path(sys.executable).parent / "gifsicle"
    args = [str(gifsicle), "--no-warnings", "--loopcount=forever"]
    for path, delay in zip(paths, delays_cs, strict=True):
        args += [f"--delay={delay}", str(path)]
    return subprocess.run(args, capture_output=True, check=True).stdout


def picture_frame(shift: int, width: int = 64, height: int = 48) -> np.ndarray:
    """A square on a gradient; ``shift`` moves the square."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    square = (abs(x - 8 - shift) < 6) & (abs(y - height / 2) < 6)
    rgb = np.stack([255 * x / width, 255 * y / height, np.where(square, 250.0, 40.0)], axis=-1)
    return rgb.astype(np.uint8)


def played(data: bytes) -> list[tuple[bytes, int]]:
    """The animation as a browser plays it: (composited pixels, milliseconds) per shown picture,
    the same picture shown twice in a row counted once with both durations (a frame's delay in
    the file: 10 ms or less is shown for 100 ms)."""
    image = frames_of(data)
    if not image.hasalpha():
        image = image.bandjoin_const([255])
    height = image.get("page-height")
    shown: list[tuple[bytes, int]] = []
    for index, delay in enumerate(gif_delays(data)):
        pixels = bytes(image.crop(0, index * height, image.width, height).write_to_memory())
        duration = 100 if delay <= 10 else delay
        if shown and shown[-1][0] == pixels:
            shown[-1] = (pixels, shown[-1][1] + duration)
        else:
            shown.append((pixels, duration))
    return shown


def test_balanced_on_identical_consecutive_frames_scores_the_frames_shown(tmp_path: Path) -> None:
    # Frames 0-7 are identical: gifsicle merges them into one, so the output has fewer frames
    # than the input and a sample by the input's frame index would ask for frames that are gone.
    shifts = [0] * 8 + [4, 8, 12, 16, 20, 24]
    source = assemble([picture_frame(s) for s in shifts], [5] * len(shifts), tmp_path)

    result = compress(source, options=BALANCED)

    assert len(gif_delays(result.data)) < len(shifts)
    assert sum(gif_delays(result.data)) == sum(gif_delays(source))
    assert result.ssimulacra2 is not None and result.ssimulacra2 >= 80
    assert len(result.data) <= len(source)


@pytest.mark.parametrize("options", [LOSSLESS, LOSSY, BALANCED], ids=["lossless", "lossy", "balanced"])
def test_short_identical_frames_are_not_merged_into_a_different_timing(
    options: CompressOptions, tmp_path: Path
) -> None:
    # Two identical 1 cs frames each play for 100 ms in a browser; merged into one 2 cs frame
    # they would play for 20 ms.
    shifts = [0, 10, 10, 20, 30]
    source = assemble([picture_frame(s) for s in shifts], [10, 1, 1, 10, 10], tmp_path)

    result = compress(source, options=options)

    assert [duration for _, duration in played(result.data)] == [d for _, d in played(source)]
    if options is LOSSLESS:
        assert played(result.data) == played(source)


def test_merged_frames_play_for_as_long_as_the_frames_they_replace(tmp_path: Path) -> None:
    shifts = [0, 10, 10, 10, 20]
    source = assemble([picture_frame(s) for s in shifts], [10, 20, 30, 40, 10], tmp_path)

    result = compress(source, options=LOSSLESS)

    assert gif_delays(result.data) == [100, 900, 100]
    assert played(result.data) == played(source)


@pytest.mark.parametrize(
    "spec",
    [ResizeSpec(ResizeStrategy.FILL, 80, 80), ResizeSpec(ResizeStrategy.FIT, 32, 32)],
    ids=["fill (libvips)", "fit (gifsicle)"],
)
def test_a_resized_animation_plays_as_long_as_the_original(spec: ResizeSpec, tmp_path: Path) -> None:
    # A "0" delay plays for 100 ms in a browser; merged into an identical neighbour it would not.
    shifts = [0, 10, 10, 10, 20]
    source = assemble([picture_frame(s) for s in shifts], [10, 0, 0, 10, 10], tmp_path)

    result = compress(source, options=LOSSLESS, resize=spec)

    assert [duration for _, duration in played(result.data)] == [d for _, d in played(source)]
