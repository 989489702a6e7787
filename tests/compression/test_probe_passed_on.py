"""A job passes the submit's probe on to the engine instead of sniffing the stored file again."""

from __future__ import annotations

from compression import engine, services
from compression.models import Status
from tests.compression.test_jobs import _accepted


def test_a_job_passes_the_submits_probe_on_instead_of_sniffing_the_file_again(
    account, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    original = _accepted(account, django_capture_on_commit_callbacks)

    def sniffed_again(*args: object, **kwargs: object) -> None:
        raise AssertionError("the stored original was sniffed again")

    monkeypatch.setattr(engine, "sniff", sniffed_again)
    monkeypatch.setattr(engine.pipeline, "sniff", sniffed_again)
    services.original_image_process(original_image_id=original.id)

    original.refresh_from_db()
    assert original.status == Status.COMPLETED
    assert {(o.status, o.file_type) for o in original.optimized_images.all()} == {
        (Status.COMPLETED, "image/jpeg")
    }
