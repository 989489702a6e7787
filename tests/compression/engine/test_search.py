import time

import pytest

from compression.engine.errors import DeadlineExceeded
from compression.engine.search import TARGET_SCORE, Candidate, SearchHint, SearchSpace, search_setting


def linear_codec(threshold: float, slope: float = 0.7):  # type: ignore[no-untyped-def]
    """Score rises by `slope` per setting and crosses 80 at `threshold`; size grows with the setting."""
    calls: list[int] = []

    def evaluate(setting: int) -> Candidate:
        calls.append(setting)
        return Candidate(setting, b"x" * (setting * 100), TARGET_SCORE + slope * (setting - threshold))

    return evaluate, calls


@pytest.mark.parametrize("threshold", [35.0, 52.3, 67.0, 80.0, 88.6, 97.5])
@pytest.mark.parametrize("first", [50, 80, 95])
def test_search_finds_a_passing_setting_close_to_the_lowest(threshold: float, first: int) -> None:
    evaluate, calls = linear_codec(threshold)

    best, tried = search_setting(
        evaluate, first=first, low=30, high=98, slope=0.7, max_evals=5, tolerance=1, deadline=None
    )

    assert best is not None
    assert best.score >= TARGET_SCORE
    assert best.setting - threshold < 3
    assert len(calls) == len(tried) <= 5
    assert len(set(calls)) == len(calls)


def test_search_returns_none_when_nothing_passes() -> None:
    evaluate, calls = linear_codec(200.0)

    best, tried = search_setting(
        evaluate, first=80, low=30, high=98, slope=0.7, max_evals=4, tolerance=1, deadline=None
    )

    assert best is None
    assert tried and all(c.score < TARGET_SCORE for c in tried)
    assert 98 in calls


def test_search_stops_at_the_lowest_setting_when_everything_passes() -> None:
    evaluate, _ = linear_codec(-50.0)

    best, _ = search_setting(
        evaluate, first=80, low=30, high=98, slope=0.7, max_evals=6, tolerance=1, deadline=None
    )

    assert best is not None and best.setting == 30


def test_search_gives_up_after_a_first_evaluation_far_below_the_target() -> None:
    evaluate, calls = linear_codec(90.0, slope=1.0)  # 60 at the first setting, 70

    best, _ = search_setting(
        evaluate, first=70, low=70, high=100, slope=0.5, max_evals=4, tolerance=5, deadline=None, give_up=10
    )

    assert best is None and calls == [70]


def test_search_goes_on_after_a_first_evaluation_within_give_up() -> None:
    evaluate, calls = linear_codec(75.0, slope=1.0)  # 75 at the first setting, 70

    best, _ = search_setting(
        evaluate, first=70, low=70, high=100, slope=0.5, max_evals=4, tolerance=5, deadline=None, give_up=10
    )

    assert best is not None and best.score >= TARGET_SCORE and len(calls) > 1


def test_search_respects_the_deadline() -> None:
    past = time.monotonic() - 1
    evaluate, calls = linear_codec(60.0)

    with pytest.raises(DeadlineExceeded):
        search_setting(
            evaluate,
            first=80,
            low=30,
            high=98,
            slope=0.7,
            max_evals=4,
            tolerance=1,
            deadline=past,
        )
    assert calls == []


def test_search_picks_the_smallest_passing_output() -> None:
    sizes = {80: 1000, 70: 900, 75: 950}

    def evaluate(setting: int) -> Candidate:
        return Candidate(setting, b"x" * sizes.get(setting, 2000), 85.0 if setting >= 70 else 70.0)

    best, tried = search_setting(
        evaluate, first=80, low=30, high=98, slope=1.0, max_evals=4, tolerance=1, deadline=None
    )

    assert best is not None
    assert len(best.data) == min(len(c.data) for c in tried if c.score >= TARGET_SCORE)


def test_search_stops_at_a_pass_closer_than_close_enough() -> None:
    # Setting 61 scores 80.2; 60 fails.
    evaluate, _ = linear_codec(60.8, slope=1.0)
    search = dict(first=80, low=30, high=98, slope=1.0, max_evals=6, tolerance=1, deadline=None)

    best, tried = search_setting(evaluate, close_enough=0.5, **search)  # type: ignore[arg-type]
    exhaustive, every = search_setting(evaluate, **search)  # type: ignore[arg-type]

    assert best is not None and exhaustive is not None
    assert best.setting == exhaustive.setting == 61
    assert len(tried) < len(every)


def curved_codec(threshold: float, offset: float = 0.0):  # type: ignore[no-untyped-def]
    """A score that is not linear in the setting (steep at the top), crossing 80 at about `threshold`;
    ``offset`` shifts the whole curve."""
    calls: list[int] = []

    def score(setting: int) -> float:
        x = setting - threshold
        return TARGET_SCORE + offset + 0.3 * x + 0.02 * x * abs(x)

    def evaluate(setting: int) -> Candidate:
        calls.append(setting)
        return Candidate(setting, b"x" * (setting * 100), score(setting))

    return evaluate, calls, score


@pytest.mark.parametrize("offset", [-3.0, -1.0, 0.0, 1.5, 4.0])
def test_search_with_a_model_of_a_shifted_curve_needs_fewer_evaluations(offset: float) -> None:
    # The model: points of the same curve shifted by `offset` (what a proxy or the original measured).
    _, _, shifted = curved_codec(72.4, offset)
    model = [(s, shifted(s)) for s in (66, 70, 72, 73, 76)]
    search = dict(first=73, low=30, high=98, slope=0.7, max_evals=6, tolerance=1, deadline=None)
    evaluate, guided = curved_codec(72.4)[:2]
    plain_evaluate, plain = curved_codec(72.4)[:2]

    best, _ = search_setting(evaluate, model=model, close_enough=0.3, **search)  # type: ignore[arg-type]
    plain_best, _ = search_setting(plain_evaluate, close_enough=0.3, **search)  # type: ignore[arg-type]

    assert best is not None and plain_best is not None
    assert best.score >= TARGET_SCORE
    assert best.setting <= plain_best.setting
    assert len(guided) <= 3
    assert len(guided) <= len(plain)


def test_search_with_a_misleading_model_still_reaches_the_target() -> None:
    # The model claims everything passes far below where the codec does.
    evaluate, _ = linear_codec(85.0)
    model = [(30, 95.0), (40, 96.0)]

    best, tried = search_setting(
        evaluate, first=30, low=30, high=98, slope=0.7, max_evals=6, tolerance=1, deadline=None, model=model
    )

    assert best is not None and best.score >= TARGET_SCORE
    assert best.setting - 85 < 3
    assert all(c.score < TARGET_SCORE for c in tried if c.setting < 85)


def test_a_search_hint_gives_the_first_setting_and_the_model() -> None:
    evaluate, calls = linear_codec(64.0)
    space = SearchSpace(first=80, low=30, high=98, slope=0.7, max_evals=5, tolerance=1, close_enough=0.3)
    hint = SearchHint.learnt("codec", *space.search(linear_codec(63.0)[0], deadline=None))
    assert hint is not None and hint.setting == 63

    best, tried = space.search(evaluate, deadline=None, hint=hint)

    assert calls[0] == 63
    assert best is not None and best.setting == 64
    assert len(tried) <= 2
    assert SearchHint.learnt("codec", best, tried).evaluations == len(tried)  # type: ignore[union-attr]
