"""Services end to end, eager Celery: submit → process → files that decode to the reported sizes."""

from __future__ import annotations

import pytest

from accounts.models import ConsumptionDay
from compression import engine, selectors, services
from compression.models import OptimizedImage, OriginalImage, Status
from compression.storage import file_read
from tests.compression.pipeline_support import SAMPLES, decoded_size, options, upload

BASE = "https://crush.test"
FAST = options(compression_type="lossy")  # one balanced test below; the search costs seconds per style


def _assert_files_decode(original: OriginalImage, fmt: str) -> None:
    assert original.status == Status.COMPLETED, original.error_msg
    rows = list(original.optimized_images.order_by("id"))
    assert [row.style for row in rows] == ["original", "thumb", "square"]
    for row in rows:
        assert row.status == Status.COMPLETED, row.error_msg
        assert row.file is not None
        data = file_read(key=row.file.key)
        assert len(data) == row.size == row.file.size
        assert row.file_type == original.file_type
        width, height = decoded_size(data, fmt)
        if fmt not in ("pdf", "svg"):
            assert (width, height) == (row.width, row.height)
    main = rows[0]
    assert main.size is not None
    assert original.size is not None
    assert main.size <= original.size


@pytest.mark.parametrize("fmt", list(SAMPLES))
def test_original_image_submit_sync_completes_every_style(account, fmt: str) -> None:
    name, content_type, build = SAMPLES[fmt]
    data = build()

    original = services.original_image_submit(
        account=account,
        options=FAST,
        base_url=BASE,
        upload=upload(name, data, content_type),
        synchronous=True,
    )

    assert original.size == len(data)
    assert original.filename == name
    _assert_files_decode(original, fmt)
    day = ConsumptionDay.objects.get(account=account)
    assert (day.files, day.optimized_files) == (1, 3)  # the original, its three completed styles


@pytest.mark.parametrize("fmt", list(SAMPLES))
def test_original_image_submit_async_enqueues_then_completes(
    account, django_capture_on_commit_callbacks, fmt: str
) -> None:
    name, _content_type, build = SAMPLES[fmt]
    data = build()

    with django_capture_on_commit_callbacks() as callbacks:
        original = services.original_image_submit(
            account=account, options=FAST, base_url=BASE, upload=upload(name, data), synchronous=False
        )
    assert original.status == Status.ENQUEUED
    assert len(callbacks) == 1
    callbacks[0]()

    original = selectors.original_image_get(account=account, original_image_id=original.id)
    _assert_files_decode(original, fmt)
    assert OptimizedImage.objects.filter(original=original).count() == 3


def test_original_image_submit_balanced_reports_the_score(account) -> None:
    original = services.original_image_submit(
        account=account,
        options=options(resize=()),
        base_url=BASE,
        upload=upload("p.jpg", SAMPLES["jpeg"][2]()),
        synchronous=True,
    )

    main = original.optimized_images.get()
    assert original.compression_type == "balanced"
    assert main.ssimulacra2 is not None and main.ssimulacra2 >= 80


def test_a_balanced_job_searches_its_styles_from_what_the_original_learnt(account, monkeypatch) -> None:
    real_compress = engine.compress
    calls: list[tuple[object, object]] = []  # (hint given, search learnt) per output, in order

    def compress(data: bytes, **kwargs: object) -> object:
        result = real_compress(data, **kwargs)  # type: ignore[arg-type]
        calls.append((kwargs["options"].hint, result.search))  # type: ignore[attr-defined]
        return result

    monkeypatch.setattr(engine, "compress", compress)

    original = services.original_image_submit(
        account=account,
        options=options(),
        base_url=BASE,
        upload=upload("p.jpg", SAMPLES["jpeg"][2]()),
        synchronous=True,
    )

    rows = list(original.optimized_images.order_by("id"))
    assert [row.style for row in rows] == ["original", "thumb", "square"]
    assert all(row.status == Status.COMPLETED for row in rows)
    assert all(row.ssimulacra2 is None or row.ssimulacra2 >= 80 for row in rows)
    (first_hint, learnt), *styles = calls
    assert first_hint is None and learnt is not None
    assert [hint for hint, _ in styles] == [learnt, learnt]
