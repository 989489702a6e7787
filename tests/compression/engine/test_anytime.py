"""Anytime search: out of time, the engine answers with the best output found so far that meets the
floor, else the lossless result, else the input (a plain resize for a resize style), never a failure."""

from __future__ import annotations

import time
from typing import TypedDict

import pytest
import pyvips

from compression.engine import (
    CompressionType,
    CompressOptions,
    DeadlineExceeded,
    Format,
    ResizeSpec,
    ResizeStrategy,
    compress,
)
from compression.engine import jpeg as jpeg_module
from compression.engine import search as search_module
from compression.engine.search import TARGET_SCORE, Candidate, search_setting
from tests.compression.pipeline_support import decoded_size, gif_animated, jpeg, pdf, png, svg, webp

BALANCED = CompressOptions(compression_type=CompressionType.BALANCED)


class SearchBounds(TypedDict):
    """The keyword arguments of `search_setting` every search here shares."""

    low: int
    high: int
    slope: float
    max_evals: int
    tolerance: int


SEARCH = SearchBounds(low=30, high=98, slope=0.7, max_evals=6, tolerance=1)
INPUTS = {
    Format.JPEG: lambda: jpeg(1200, 800),
    Format.PNG: lambda: png(600, 400),
    Format.GIF: lambda: gif_animated(240, 160, 6),
    Format.WEBP: lambda: webp(1200, 800),
    Format.SVG: svg,
    Format.PDF: pdf,
}


class FakeClock:
    """The search's clock: each evaluation takes one second."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(search_module, "time", fake)
    return fake


def timed_codec(clock: FakeClock, threshold: float):  # type: ignore[no-untyped-def]
    """Score crosses 80 at ``threshold`` (0.7 per setting); each evaluation advances the clock by 1 s."""
    calls: list[int] = []

    def evaluate(setting: int) -> Candidate:
        calls.append(setting)
        clock.now += 1.0
        return Candidate(setting, b"x" * (setting * 100), TARGET_SCORE + 0.7 * (setting - threshold))

    return evaluate, calls


def test_a_search_out_of_time_returns_the_best_passing_candidate_found_so_far(clock: FakeClock) -> None:
    # given: a search that needs more than two evaluations, and time for two (the search may use 0.6
    # of the 4 s left, and expects each evaluation to take as long as the longest so far)
    evaluate, unlimited_calls = timed_codec(clock, threshold=78.5)
    search_setting(evaluate, first=80, deadline=None, **SEARCH)
    assert len(unlimited_calls) > 2
    evaluate, calls = timed_codec(clock, threshold=78.5)

    # when
    best, tried = search_setting(evaluate, first=80, deadline=clock.now + 4.0, **SEARCH)

    # then: 80 passed, 78 (tried last) failed: the passing one
    assert calls == [80, 78]
    assert best is not None and best.setting == 80 and best.score >= TARGET_SCORE
    assert len(tried) == 2


def test_a_search_out_of_time_before_anything_passed_raises_for_the_codec_to_fall_back(
    clock: FakeClock,
) -> None:
    evaluate, calls = timed_codec(clock, threshold=95.0)

    with pytest.raises(DeadlineExceeded):
        search_setting(evaluate, first=80, deadline=clock.now + 1.0, **SEARCH)
    assert calls == [80]


def test_an_evaluation_that_hits_the_deadline_ends_the_search_with_what_passed(clock: FakeClock) -> None:
    evaluate, calls = timed_codec(clock, threshold=50.0)

    def overruns_after_one(setting: int) -> Candidate:
        if calls:
            raise DeadlineExceeded()
        return evaluate(setting)

    best, tried = search_setting(overruns_after_one, first=80, deadline=clock.now + 100.0, **SEARCH)

    assert best is not None and best.setting == 80
    assert [c.setting for c in tried] == [80]


@pytest.mark.parametrize("seconds_left", [-1.0, 0.0, 0.005, 0.05])
@pytest.mark.parametrize("fmt", list(INPUTS), ids=lambda f: f.value)
def test_every_format_answers_out_of_time_never_larger_than_its_input(
    fmt: Format, seconds_left: float
) -> None:
    data = INPUTS[fmt]()

    result = compress(data, options=BALANCED, deadline=time.monotonic() + seconds_left)

    assert result.format is fmt
    assert len(result.data) <= len(data)
    assert decoded_size(result.data, fmt.value) == decoded_size(data, fmt.value)
    if result.unchanged:
        assert result.data == data


@pytest.mark.parametrize("seconds_left", [-1.0, 0.005, 0.05])
@pytest.mark.parametrize("fmt", [Format.JPEG, Format.PNG, Format.GIF, Format.WEBP], ids=lambda f: f.value)
def test_a_resize_style_out_of_time_is_still_the_style(fmt: Format, seconds_left: float) -> None:
    data = INPUTS[fmt]()
    spec = ResizeSpec(strategy=ResizeStrategy.FIT, width=60, height=60)

    result = compress(data, options=BALANCED, resize=spec, deadline=time.monotonic() + seconds_left)

    assert result.format is fmt
    assert decoded_size(result.data, fmt.value) == (60, 40) == (result.width, result.height)


def test_a_past_deadline_says_the_original_was_kept_because_time_ran_out() -> None:
    data = INPUTS[Format.JPEG]()

    result = compress(data, options=BALANCED, deadline=time.monotonic() - 1)

    assert result.unchanged and result.data == data
    assert result.warning and "Time ran out" in result.warning


def test_a_jpeg_out_of_time_before_an_output_passed_is_its_lossless_transcode(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = INPUTS[Format.JPEG]()

    def out_of_time(*args: object, **kwargs: object) -> None:
        raise DeadlineExceeded()

    monkeypatch.setattr(jpeg_module, "balanced", out_of_time)  # the search ran out of time
    result = compress(data, options=BALANCED, deadline=time.monotonic() + 60)

    assert result.warning is None and not result.unchanged
    assert len(result.data) < len(data)
    before, after = pyvips.Image.new_from_buffer(data, ""), pyvips.Image.new_from_buffer(result.data, "")
    assert (before - after).abs().max() == 0


def test_oxipng_under_a_deadline_gives_the_same_bytes_and_is_skipped_without_time() -> None:
    from compression.engine.oxipng_run import oxipng_optimize

    data = png(300, 200)

    assert oxipng_optimize(data, True, time.monotonic() + 100) == oxipng_optimize(data, True, None)
    assert oxipng_optimize(data, True, time.monotonic() + 0.5) == data


def test_oxipng_under_a_deadline_still_refuses_what_it_cannot_read() -> None:
    from compression.engine import CorruptInput
    from compression.engine.oxipng_run import oxipng_optimize

    with pytest.raises(CorruptInput):
        oxipng_optimize(png(30, 20)[:-40], True, time.monotonic() + 100)
