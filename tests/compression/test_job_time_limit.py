"""A job that runs out of time still completes every output (anytime search): the engine answers
with what it has, the original unchanged or a plain resize at worst, and says so."""

from __future__ import annotations

import time

import pytest

from compression import engine, services
from compression.models import OriginalImage, Status
from tests.compression.live_jobs import process_inline
from tests.compression.pipeline_support import SAMPLES, TWO_STYLES, options, upload

pytestmark = pytest.mark.django_db

BASE = "https://crush.test"


@pytest.mark.parametrize("fmt", ["jpeg", "png", "gif", "webp", "svg", "pdf"])
def test_a_job_without_time_completes_every_output(account, settings, fmt: str) -> None:
    # given: no time at all for the job (the engine's deadline has passed before it starts)
    settings.CRUSH_JOB_TIME_LIMIT_SECONDS = 0
    name, _content_type, make = SAMPLES[fmt]
    data = make()

    # when
    original = process_inline(account, name, data, compression_type="balanced", resize=TWO_STYLES)

    # then: completed, every output too, none larger than the original unless a resize made it
    assert original.status == Status.COMPLETED
    rows = {row.style: row for row in original.optimized_images.all()}
    assert set(rows) == {"original", "thumb", "square"}
    assert {row.status for row in rows.values()} == {Status.COMPLETED}
    assert rows["original"].size is not None
    assert rows["original"].size <= len(data)
    if fmt not in ("svg", "pdf"):  # SVG styles are sanitised and resized by the codec; PDFs ignore styles
        assert rows["original"].kept_original is True
        assert rows["original"].warning and "Time ran out" in rows["original"].warning
        assert (rows["thumb"].width, rows["thumb"].height) == (40, 27)


@pytest.fixture
def deadlines(monkeypatch) -> list[float]:  # type: ignore[no-untyped-def]
    """The engine, recording the seconds left before each deadline it is given."""
    real_compress = engine.compress
    recorded: list[float] = []

    def recording(data: bytes, *, deadline: float | None = None, **kwargs):  # type: ignore[no-untyped-def]
        assert deadline is not None
        recorded.append(deadline - time.monotonic())
        return real_compress(data, deadline=deadline, **kwargs)

    monkeypatch.setattr(engine, "compress", recording)
    return recorded


def test_the_time_left_is_shared_between_the_outputs_left(account, settings, deadlines) -> None:
    # given: a job time limit, and an engine that records the deadline it is given
    settings.CRUSH_JOB_TIME_LIMIT_SECONDS = 100
    name, _content_type, make = SAMPLES["jpeg"]

    # when
    original = process_inline(account, name, make(), compression_type="balanced", resize=TWO_STYLES)

    # then: the original style gets twice a resize style's share of the 90 s, and time an output
    # does not use passes on to the next ones (the last gets all that is left)
    assert original.status == Status.COMPLETED
    assert len(deadlines) == 3
    assert 44 < deadlines[0] <= 45
    assert 30 < deadlines[1] <= 45
    assert deadlines[1] < deadlines[2] <= 90


def test_a_synchronous_conversion_has_the_sync_time_once_per_format_it_tries(
    account, settings, deadlines
) -> None:
    # given: a sync search time, and an engine that records the deadline it is given
    settings.CRUSH_SYNC_SEARCH_SECONDS = 10
    name, _content_type, make = SAMPLES["jpeg"]

    def sync(**overrides: object) -> OriginalImage:
        return services.original_image_submit(
            account=account,
            options=options(compression_type="balanced", resize=(), **overrides),
            base_url=BASE,
            upload=upload(name, make()),
            synchronous=True,
        )

    # when: the same photo, kept in its format, then converted to the smallest of jpeg, webp and avif
    plain = sync()
    converted = sync(convert=("auto",))

    # then: three searches get three times the time of one (each a full share, not a third of it)
    assert plain.status == converted.status == Status.COMPLETED
    assert 9 < deadlines[0] <= 10
    assert 29 < deadlines[1] <= 30
    row = converted.optimized_images.get()
    assert [(c["format"], c["size"] is not None) for c in row.candidates] == [
        ("jpeg", True),
        ("webp", True),
        ("avif", True),
    ]
