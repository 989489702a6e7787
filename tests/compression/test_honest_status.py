"""Honest status: an original none of whose outputs could be made is `failed` with the reason (both surfaces,
the webhook); every optimized image says whether its bytes are the original's and whether the engine fell
back.
"""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import ConsumptionDay
from accounts.selectors import quota_used_this_month
from compression import engine, services
from compression.engine import Format, pipeline
from compression.engine.pipeline import FALLBACK_FAILED_MESSAGE
from compression.models import OptimizedImage, OriginalImage, Status, StoredFile
from tests.compression.live_jobs import process_inline
from tests.compression.pipeline_support import TWO_STYLES, jpeg, options, upload
from tests.imagerecycle.conftest import client_for
from webhooks.models import WebhookEvent
from webhooks.services import callback_url_create

pytestmark = pytest.mark.django_db

BASE = "https://crush.test"
MINIMAL_SVG = b'<svg xmlns="http://www.w3.org/2000/svg"/>'


def broken(*args: object, **kwargs: object) -> None:
    raise RuntimeError("an optimizer bug")


@pytest.fixture
def no_time(monkeypatch):  # type: ignore[no-untyped-def]
    """Every output fails for the same reason the engine gives when even its fallback fails (running
    out of time no longer fails an output: see test_job_time_limit)."""

    def refused(*args: object, **kwargs: object) -> None:
        raise engine.EngineError(FALLBACK_FAILED_MESSAGE)

    monkeypatch.setattr(engine, "compress", refused)


def test_original_whose_every_output_failed_is_failed_with_the_reason(account, no_time) -> None:
    # given
    callback_url_create(account=account, url="http://127.0.0.1:9/crush")

    # when
    original = process_inline(account, "photo.jpg", jpeg())

    # then: failed, with the reason the outputs gave
    assert original.status == Status.FAILED
    assert original.error_msg == FALLBACK_FAILED_MESSAGE
    assert original.error_code == "engine_error"
    assert set(original.optimized_images.values_list("status", flat=True)) == {Status.FAILED}
    # the current rule for failed originals: quota given back, nothing in the ledger
    assert quota_used_this_month(account=account) == 0
    assert not ConsumptionDay.objects.exists()
    # the webhook says error
    event = WebhookEvent.objects.get()
    assert event.event_type == "error"
    body = json.loads(event.body)
    assert body["original_image"]["status"] == "failed"
    assert body["original_image"]["error_msg"] == FALLBACK_FAILED_MESSAGE


def test_original_with_one_completed_output_stays_completed(account, monkeypatch) -> None:
    # given: resize styles fail, the original style works
    real_compress = engine.compress

    def styles_fail(data: bytes, *, resize=None, **kwargs):  # type: ignore[no-untyped-def]
        if resize is not None:
            raise engine.InvalidSpec("no styles today")
        return real_compress(data, resize=resize, **kwargs)

    monkeypatch.setattr(engine, "compress", styles_fail)

    # when
    original = process_inline(account, "photo.jpg", jpeg(), resize=TWO_STYLES)

    # then
    assert original.status == Status.COMPLETED
    statuses = dict(original.optimized_images.values_list("style", "status"))
    assert statuses == {"original": Status.COMPLETED, "thumb": Status.FAILED, "square": Status.FAILED}
    assert quota_used_this_month(account=account) == original.size


def test_sync_compress_of_a_file_every_output_fails_answers_4xx_json(api, no_time) -> None:
    response = api.post("/v1/compress", {"file": SimpleUploadedFile("photo.jpg", jpeg())}, format="multipart")

    assert response.status_code == 415
    assert response.json()["message"] == FALLBACK_FAILED_MESSAGE
    assert not OriginalImage.objects.exists()
    assert not StoredFile.objects.exists()


def test_sync_compress_answers_500_json_when_every_output_failed_because_of_us(api, monkeypatch) -> None:
    monkeypatch.setattr(engine, "compress", broken)

    response = api.post("/v1/compress", {"file": SimpleUploadedFile("photo.jpg", jpeg())}, format="multipart")

    assert response.status_code == 500
    assert response.json()["code"] == "internal_error"
    assert not OriginalImage.objects.exists()


def test_imagerecycle_upload_whose_output_failed_answers_its_error_never_201(account, no_time) -> None:
    ir = client_for(account)

    response = ir.post("images", {"file": SimpleUploadedFile("photo.jpg", jpeg())}, multipart=True)

    assert response.status_code == 415
    body = response.json()
    assert body["errCode"] == 415
    assert body["errMessage"] == FALLBACK_FAILED_MESSAGE
    assert ir.get("images").json()["total"] == 0
    assert quota_used_this_month(account=account) == 0


# --- kept_original and warning ----------------------------------------------------------------------


def test_optimized_image_reports_kept_original_false_and_no_warning_normally(api) -> None:
    response = api.post(
        "/v1/compress", {"file": SimpleUploadedFile("photo.jpg", jpeg(300, 200))}, format="multipart"
    )

    assert response.status_code == 200, response.content
    [optimized] = response.json()["original_image"]["optimized_images"]
    assert optimized["kept_original"] is False
    assert optimized["warning"] is None
    assert optimized["size"] < response.json()["original_image"]["size"]


def test_optimized_image_reports_kept_original_when_nothing_smaller_was_found(api) -> None:
    response = api.post(
        "/v1/compress", {"file": SimpleUploadedFile("dot.svg", MINIMAL_SVG)}, format="multipart"
    )

    assert response.status_code == 200, response.content
    [optimized] = response.json()["original_image"]["optimized_images"]
    assert optimized["kept_original"] is True
    assert optimized["warning"] is None
    assert optimized["size"] == len(MINIMAL_SVG)


def test_engine_fallback_completes_with_kept_original_and_a_warning_everywhere(
    account, monkeypatch, caplog
) -> None:
    # given: the JPEG optimizer is broken
    monkeypatch.setitem(pipeline.RASTER_CODECS, Format.JPEG, broken)
    callback_url_create(account=account, url="http://127.0.0.1:9/crush")
    data = jpeg(300, 200)

    # when
    original = process_inline(account, "photo.jpg", data, resize=TWO_STYLES[:1])

    # then: completed, the original kept, a plain resize for the style, each with a warning
    assert original.status == Status.COMPLETED
    rows = {row.style: row for row in original.optimized_images.all()}
    assert rows["original"].kept_original is True
    assert rows["original"].size == len(data)
    assert rows["original"].warning and "unchanged" in rows["original"].warning
    assert rows["thumb"].status == Status.COMPLETED
    assert rows["thumb"].kept_original is False
    assert (rows["thumb"].width, rows["thumb"].height) == (40, 27)
    assert rows["thumb"].warning and "plain resize" in rows["thumb"].warning
    # the webhook payload carries both fields
    body = json.loads(WebhookEvent.objects.get().body)
    assert body["event"] == "optimized"
    assert [(o["kept_original"], o["warning"] is not None) for o in body["optimized_images"]] == [
        (True, True),
        (False, True),
    ]
    assert "an optimizer bug" in caplog.text


def test_optimized_image_rows_default_to_not_kept_and_no_warning(account) -> None:
    original = services.original_image_submit(
        account=account, options=options(), base_url=BASE, upload=upload("p.jpg", jpeg()), synchronous=False
    )

    assert (
        list(OptimizedImage.objects.filter(original=original).values_list("kept_original", "warning"))
        == [(False, None)] * 3
    )
