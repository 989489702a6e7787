"""Find the cheapest encoder setting whose SSIMULACRA2 score reaches the target, in few evaluations.

Scores rise (nearly) monotonically with the quality setting; the search brackets the target from a
good first guess, then interpolates inside the bracket instead of halving it.

A search can be guided by a ``model``: the (setting, score) points of a related curve, such as the
same search on a small proxy of the image, or a resize style's original (``SearchHint``). Scores of
the related image are expected to differ by about a constant: each evaluation measures that offset,
and the next setting is the lowest one the shifted model puts at the target.

Anytime: a search may use SEARCH_SHARE of the time left before its deadline; when that runs out it
returns the best passing candidate found so far, so the final encode and the other outputs of the job
still fit in the job's time limit. With nothing passing yet it raises DeadlineExceeded and the codec
falls back (its lossless result, else ``pipeline.compress`` hands back the input).
"""

import itertools
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .errors import DeadlineExceeded

logger = logging.getLogger(__name__)

# The default floor of ``balanced`` ("very high quality"); a caller may set another
# (``CompressOptions.target``).
TARGET_SCORE = 80.0
# Share of the time left that optional work (a search, a PDF's image pass) may take; the rest is kept
# for what must follow it (the final lossless pass, saving, the next outputs' shares).
SEARCH_SHARE = 0.6


def search_deadline(deadline: float | None, share: float = SEARCH_SHARE) -> float | None:
    """When optional work that starts now has to stop: ``share`` of the time left before ``deadline``."""
    if deadline is None:
        return None
    now = time.monotonic()
    return now + max(0.0, deadline - now) * share


@dataclass(frozen=True, slots=True)
class Candidate:
    setting: int
    data: bytes
    score: float


Point = tuple[int, float]


@dataclass(frozen=True, slots=True)
class SearchHint:
    """What a search learnt, for a search of a related image (a resize style of the same job):
    the setting it chose and every (setting, score) point it measured. ``encoder`` names the scale
    of the settings (a hint is only used by a search over the same encoder's settings)."""

    encoder: str
    setting: int
    points: tuple[Point, ...]

    @property
    def evaluations(self) -> int:
        return len(self.points)

    @classmethod
    def learnt(cls, encoder: str, found: Candidate | None, tried: list[Candidate]) -> "SearchHint | None":
        """The hint a search's result leaves (None when it measured nothing)."""
        if not tried:
            return None
        chosen = found or max(tried, key=lambda c: c.score)
        return cls(encoder, chosen.setting, tuple(sorted((c.setting, c.score) for c in tried)))

    def for_encoder(self, encoder: str) -> "SearchHint | None":
        return self if self.encoder == encoder else None


def hint_for(hint: SearchHint | None, encoder: str) -> SearchHint | None:
    """``hint`` when it comes from ``encoder``'s scale of settings, else None (a hint of another
    encoder says nothing about this one's settings)."""
    return hint.for_encoder(encoder) if hint is not None else None


def search_setting(
    evaluate: Callable[[int], Candidate],
    *,
    first: int,
    low: int,
    high: int,
    slope: float,
    max_evals: int,
    tolerance: int,
    deadline: float | None,
    target: float = TARGET_SCORE,
    close_enough: float = 0.0,
    model: Sequence[Point] = (),
    model_stop: float | None = None,
    give_up: float | None = None,
) -> tuple[Candidate | None, list[Candidate]]:
    """The passing candidate with the lowest setting (None if none passed) and every evaluation.

    When the next evaluation would end past ``search_deadline(deadline)`` (expected to take as long
    as the longest so far), or an evaluation hits ``deadline`` itself, the search stops with the
    best passing candidate so far; DeadlineExceeded when none passed yet.

    ``slope`` is the expected score change per setting unit, used to step out of a one-sided
    bracket; ``tolerance`` is how close the bracket must get before stopping early, and a passing
    score less than ``close_enough`` above the target also stops the search (a lower setting
    would almost surely fail). Until the target is bracketed, a ``model`` (see the module
    docstring) chooses the next setting instead of ``slope``: the lowest one at the target once the
    model is shifted by the offset measured at the setting closest to the target. With
    ``model_stop``, a pass also ends the search when that shifted model puts the setting just
    below it more than ``model_stop`` below the target (the model is trusted to call it a fail).
    With ``give_up``, a first evaluation failing by more than that ends the search: the codec's
    lossless output is the answer.
    """
    stop_at = search_deadline(deadline)
    tried: dict[int, Candidate] = {}
    longest = 0.0  # the longest evaluation so far: what the next one is expected to take
    setting = min(max(first, low), high)
    while len(tried) < max_evals and setting not in tried:
        started = time.monotonic()
        if stop_at is not None and started + longest > stop_at:
            return _cut_short(tried, target)
        try:
            tried[setting] = evaluate(setting)
        except DeadlineExceeded:
            return _cut_short(tried, target)
        longest = max(longest, time.monotonic() - started)
        passing = [c for c in tried.values() if c.score >= target]
        failing = [c for c in tried.values() if c.score < target]
        best_pass = min(passing, key=lambda c: c.setting) if passing else None
        worst_fail = max(failing, key=lambda c: c.setting) if failing else None
        if best_pass and best_pass.score < target + close_enough:
            break
        if give_up is not None and len(tried) == 1 and not passing and failing[0].score < target - give_up:
            break
        if best_pass and model and model_stop is not None and best_pass.setting - 1 not in tried:
            below = _shifted_score(model, best_pass, best_pass.setting - 1, slope)
            if below < target - model_stop:
                break
        if best_pass and worst_fail:
            if best_pass.setting - worst_fail.setting <= tolerance:
                break
            span = best_pass.score - worst_fail.score
            fraction = (target - worst_fail.score) / span if span > 0 else 0.5
            guess = worst_fail.setting + fraction * (best_pass.setting - worst_fail.setting)
            setting = min(max(math.ceil(guess), worst_fail.setting + 1), best_pass.setting - 1)
        elif best_pass:
            if best_pass.setting <= low:
                break
            if model:
                guess = _shifted_guess(model, best_pass, target, low, high, slope)
                setting = min(guess, best_pass.setting - 1)
            else:
                step = max(2, math.floor((best_pass.score - target) / slope))
                setting = max(low, best_pass.setting - step)
        else:
            assert worst_fail is not None
            if worst_fail.setting >= high:
                break
            if model:
                guess = _shifted_guess(model, worst_fail, target, low, high, slope)
                setting = max(guess, worst_fail.setting + 1)
            else:
                step = max(2, math.ceil((target - worst_fail.score) / slope))
                setting = min(high, worst_fail.setting + step)
    passing = [c for c in tried.values() if c.score >= target]
    best = min(passing, key=lambda c: len(c.data)) if passing else None
    return best, list(tried.values())


def model_at(model: Sequence[Point], setting: int, slope: float) -> float:
    """The model's score at ``setting``: interpolated between its points, extrapolated with
    ``slope`` beyond them."""
    points = sorted(model)
    if setting <= points[0][0]:
        return points[0][1] - slope * (points[0][0] - setting)
    if setting >= points[-1][0]:
        return points[-1][1] + slope * (setting - points[-1][0])
    for (s0, v0), (s1, v1) in itertools.pairwise(points):
        if s0 <= setting <= s1:
            return v0 + (v1 - v0) * (setting - s0) / (s1 - s0)
    raise AssertionError("unreachable")


def model_guess(
    model: Sequence[Point], target: float, low: int, high: int, slope: float, offset: float = 0.0
) -> int:
    """The lowest setting in [low, high] above every setting the model, shifted by ``offset``,
    puts below ``target``."""
    failing = [s for s in range(low, high + 1) if model_at(model, s, slope) + offset < target]
    return min(max(failing) + 1, high) if failing else low


def _shifted_score(model: Sequence[Point], anchor: Candidate, setting: int, slope: float) -> float:
    """The model's score at ``setting``, shifted to agree with ``anchor``, a measured candidate."""
    return model_at(model, setting, slope) + anchor.score - model_at(model, anchor.setting, slope)


def _shifted_guess(
    model: Sequence[Point], anchor: Candidate, target: float, low: int, high: int, slope: float
) -> int:
    """``model_guess`` with the model shifted to agree with ``anchor``, a measured candidate."""
    offset = anchor.score - model_at(model, anchor.setting, slope)
    return model_guess(model, target, low, high, slope, offset)


def _cut_short(tried: dict[int, Candidate], target: float) -> tuple[Candidate | None, list[Candidate]]:
    """The result of a search stopped by its deadline: the smallest passing candidate so far."""
    passing = [c for c in tried.values() if c.score >= target]
    logger.info("search stopped by its deadline after %d evaluations (%d passing)", len(tried), len(passing))
    if not passing:
        raise DeadlineExceeded()
    return min(passing, key=lambda c: len(c.data)), list(tried.values())


@dataclass(frozen=True, slots=True)
class SearchSpace:
    """One codec's setting range and step model for ``search_setting``."""

    first: int
    low: int
    high: int
    slope: float
    max_evals: int
    tolerance: int
    close_enough: float = 0.0
    model_stop: float | None = None
    give_up: float | None = None

    def search(
        self,
        evaluate: Callable[[int], Candidate],
        *,
        deadline: float | None,
        first: int | None = None,
        target: float = TARGET_SCORE,
        model: Sequence[Point] = (),
        hint: SearchHint | None = None,
    ) -> tuple[Candidate | None, list[Candidate]]:
        """``hint`` (what the search of a related image learnt) gives the first setting and the
        model unless they are given."""
        if hint is not None:
            first = hint.setting if first is None else first
            model = model or hint.points
        return search_setting(
            evaluate,
            first=self.first if first is None else first,
            low=self.low,
            high=self.high,
            slope=self.slope,
            max_evals=self.max_evals,
            tolerance=self.tolerance,
            deadline=deadline,
            target=target,
            close_enough=self.close_enough,
            model=model,
            model_stop=self.model_stop,
            give_up=self.give_up,
        )
