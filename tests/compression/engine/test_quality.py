import io
import time
from pathlib import Path

import numpy as np
import pytest
import pyvips
from ssimulacra2 import compute_ssimulacra2

from compression.engine import quality
from compression.engine.errors import DeadlineExceeded
from compression.engine.quality import Reference, ssimulacra2

TOLERANCE = 1.0
CORPUS_PHOTO = Path("/tmp/crush-dev-corpus/jpeg/Kite.jpg")


def photo_like(width: int, height: int) -> pyvips.Image:
    """Smooth gradients plus 1/f texture, like a photo's spectrum."""
    rng = np.random.default_rng(width * 7919 + height)
    fy = np.fft.fftfreq(height)[:, None, None]
    fx = np.fft.rfftfreq(width)[None, :, None]
    spectrum = rng.normal(size=(height, width // 2 + 1, 3)) + 1j * rng.normal(
        size=(height, width // 2 + 1, 3)
    )
    texture = np.fft.irfft2(
        spectrum / np.maximum(np.hypot(fx, fy), 1.0 / max(width, height)), s=(height, width), axes=(0, 1)
    )
    texture = (texture - texture.mean()) / texture.std()
    rgb = np.clip(128 + 30 * texture, 0, 255).astype(np.uint8)
    return pyvips.Image.new_from_array(rgb, interpretation="srgb")


def graphics(width: int, height: int) -> pyvips.Image:
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.zeros((height, width, 3), dtype=np.uint8)
    rgb[...] = (240, 240, 235)
    rgb[(x // 24 + y // 24) % 3 == 0] = (30, 90, 200)
    rgb[(x - width / 2) ** 2 + (y - height / 2) ** 2 < (height / 3) ** 2] = (220, 40, 40)
    rgb[:, :, 1] = np.where((y % 16) < 2, 10, rgb[:, :, 1])
    return pyvips.Image.new_from_array(rgb, interpretation="srgb")


def distort(image: pyvips.Image, how: str) -> pyvips.Image:
    if how.startswith("jpeg"):
        return pyvips.Image.new_from_buffer(image.write_to_buffer(".jpg", Q=int(how[4:])), "")
    if how == "blur":
        return image.gaussblur(1.2).cast("uchar")
    if how == "palette":
        return pyvips.Image.new_from_buffer(image.write_to_buffer(".png", palette=True, bitdepth=4), "")
    raise AssertionError(how)


def reference_score(reference: pyvips.Image, candidate: pyvips.Image) -> float:
    return compute_ssimulacra2(
        io.BytesIO(reference.write_to_buffer(".png")), io.BytesIO(candidate.write_to_buffer(".png"))
    )


@pytest.mark.parametrize("make", [photo_like, graphics])
@pytest.mark.parametrize("size", [(256, 256), (131, 77)])
@pytest.mark.parametrize("how", ["jpeg30", "jpeg60", "jpeg90", "blur", "palette"])
def test_ssimulacra2_matches_reference_package(make, size, how) -> None:
    original = make(*size)
    candidate = distort(original, how)

    ours = ssimulacra2(original, candidate)

    assert ours == pytest.approx(reference_score(original, candidate), abs=TOLERANCE)


@pytest.mark.skipif(not CORPUS_PHOTO.exists(), reason="dev corpus not built")
@pytest.mark.parametrize("quality", [30, 75, 95])
def test_ssimulacra2_matches_reference_package_on_real_photo(quality) -> None:
    original = pyvips.Image.new_from_file(str(CORPUS_PHOTO)).crop(900, 600, 320, 240)
    candidate = distort(original, f"jpeg{quality}")

    ours = ssimulacra2(original, candidate)

    assert ours == pytest.approx(reference_score(original, candidate), abs=TOLERANCE)


def test_ssimulacra2_matches_reference_package_at_pure_black_and_white() -> None:
    y, x = np.mgrid[0:96, 0:128]
    grid = np.where(((x // 8 + y // 8) % 2 == 0)[..., None], 255, 0).astype(np.uint8).repeat(3, axis=2)
    original = pyvips.Image.new_from_array(grid, interpretation="srgb")  # both ends of the cube root's range
    candidate = distort(original, "jpeg50")

    ours = ssimulacra2(original, candidate)

    assert ours == pytest.approx(reference_score(original, candidate), abs=TOLERANCE)


def test_ssimulacra2_identical_images_score_100() -> None:
    original = photo_like(64, 48)

    assert ssimulacra2(original, original.copy()) == pytest.approx(100.0, abs=1e-6)


def test_reference_scores_many_candidates_like_fresh_references() -> None:
    original = photo_like(200, 120)
    candidates = [distort(original, how) for how in ("jpeg40", "jpeg85", "blur")]
    reference = Reference(original)

    scores = [reference.score(c) for c in candidates]

    assert scores == [pytest.approx(ssimulacra2(original, c), abs=1e-9) for c in candidates]


def test_ssimulacra2_grey_scores_like_replicated_rgb() -> None:
    grey = photo_like(96, 96).extract_band(1).copy(interpretation="b-w")
    candidate = distort(grey, "jpeg50")

    ours = ssimulacra2(grey, candidate)

    rgb = grey.bandjoin([grey, grey]).copy(interpretation="srgb")
    assert ours == pytest.approx(ssimulacra2(rgb, candidate.bandjoin([candidate, candidate])), abs=1e-4)


def test_ssimulacra2_sixteen_bit_scores_like_eight_bit() -> None:
    original = photo_like(96, 96)
    candidate = distort(original, "jpeg50")

    sixteen = (original.cast("ushort") * 257).cast("ushort").copy(interpretation="rgb16")

    ours = ssimulacra2(sixteen, candidate)

    assert ours == pytest.approx(ssimulacra2(original, candidate), abs=0.05)


def test_ssimulacra2_alpha_takes_worse_of_dark_and_light_background() -> None:
    colour = photo_like(128, 96)
    alpha = (pyvips.Image.xyz(128, 96)[0] * 2).cast("uchar")
    original = colour.bandjoin(alpha)
    candidate = pyvips.Image.new_from_buffer(original.write_to_buffer(".png", palette=True, bitdepth=4), "")

    ours = ssimulacra2(original, candidate)

    expected = min(
        reference_score(original.flatten(background=[bg] * 3), candidate.flatten(background=[bg] * 3))
        for bg in (0.1 * 255, 0.9 * 255)
    )
    assert ours == pytest.approx(expected, abs=TOLERANCE)


def test_ssimulacra2_alpha_ignores_colour_under_full_transparency() -> None:
    colour = photo_like(64, 64)
    alpha = pyvips.Image.black(64, 64).draw_rect(255, 0, 0, 32, 64, fill=True).cast("uchar")
    candidate_colour = colour.crop(0, 0, 32, 64).join(colour.invert().crop(32, 0, 32, 64), "horizontal")

    score = ssimulacra2(colour.bandjoin(alpha), candidate_colour.bandjoin(alpha))

    assert score == pytest.approx(100.0, abs=1e-3)


def test_reference_rejects_candidate_of_another_size() -> None:
    reference = Reference(photo_like(64, 64))

    with pytest.raises(ValueError):
        reference.score(photo_like(64, 32))


@pytest.mark.parametrize(("width", "height"), [(300, 397), (257, 256)])
@pytest.mark.parametrize("alpha", [False, True])
def test_strips_score_exactly_like_the_whole_image(monkeypatch, width, height, alpha) -> None:
    original = photo_like(width, height)
    if alpha:
        original = original.bandjoin((pyvips.Image.xyz(width, height)[0] * 255 / width).cast("uchar"))
    candidate = distort(original, "jpeg40") if not alpha else distort(original, "palette")
    whole = Reference(original)

    monkeypatch.setattr(quality, "TILE_MIN_PIXELS", 1000)
    monkeypatch.setattr(quality, "STRIP_ROWS", 48)
    strips = Reference(original)

    assert strips._tiled and not whole._tiled
    assert strips.score(candidate) == pytest.approx(whole.score(candidate), abs=1e-6)


def test_warm_up_runs_the_kernels_on_an_identical_pair() -> None:
    assert quality.warm_up() == 100.0


def test_small_images_score_on_one_thread_and_large_ones_on_at_most_every_core() -> None:
    import numba

    from compression.engine.metric_kernels import PARALLEL_MIN_PIXELS, threads_for

    assert threads_for(PARALLEL_MIN_PIXELS - 1) == 1
    # numba.config sets its options at import time, which mypy cannot see
    assert 1 <= threads_for(100_000_000) <= numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]


def test_large_images_take_the_cores_no_other_task_runs_on(monkeypatch: pytest.MonkeyPatch) -> None:
    import numba

    from compression.engine import metric_kernels

    cores = numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]
    assert metric_kernels.runnable_tasks() >= 1  # this test is running
    monkeypatch.setattr(metric_kernels, "runnable_tasks", lambda: 1)  # an idle machine: only this thread
    assert metric_kernels.threads_for(100_000_000) == cores
    monkeypatch.setattr(metric_kernels, "runnable_tasks", lambda: cores + 5)  # every core taken
    assert metric_kernels.threads_for(100_000_000) == 1


@pytest.mark.parametrize("strips", [False, True])
def test_reference_build_stops_at_its_deadline(monkeypatch, strips) -> None:
    if strips:
        monkeypatch.setattr(quality, "TILE_MIN_PIXELS", 1000)
        monkeypatch.setattr(quality, "STRIP_ROWS", 48)

    with pytest.raises(DeadlineExceeded):
        Reference(photo_like(300, 200), deadline=time.monotonic() - 1)
