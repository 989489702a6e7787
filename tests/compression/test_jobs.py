"""Job life cycle without a worker process: claims, bounded attempts, the sweeper, retry, delete, purge."""

from __future__ import annotations

import contextlib
import datetime
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import ConsumptionDay
from accounts.selectors import quota_used_this_month
from compression import engine, selectors, services, storage
from compression.models import OptimizedImage, OriginalImage, Status, StoredFile
from compression.services import jobs, lifecycle
from compression.storage import StorageUnavailable
from crush.lib.errors import NotFound
from tests.compression.pipeline_support import jpeg, options, upload

BASE = "https://crush.test"
FAST = options(compression_type="lossy")  # the balanced search costs seconds; these tests are not about it


def _accepted(account, django_capture_on_commit_callbacks) -> OriginalImage:  # type: ignore[no-untyped-def]
    """An async original whose task message was lost (the on-commit enqueue is captured, not run)."""
    with django_capture_on_commit_callbacks():
        return services.original_image_submit(
            account=account,
            options=FAST,
            base_url=BASE,
            upload=upload("a.jpg", jpeg()),
            synchronous=False,
        )


def _age(original: OriginalImage, settings) -> None:  # type: ignore[no-untyped-def]
    past = timezone.now() - datetime.timedelta(seconds=settings.CRUSH_JOB_LEASE_SECONDS + 1)
    OriginalImage.objects.filter(pk=original.pk).update(updated_at=past)


def test_stuck_jobs_sweep_reenqueues_a_lost_job_which_then_completes(
    account, settings, django_capture_on_commit_callbacks
) -> None:
    original = _accepted(account, django_capture_on_commit_callbacks)
    _age(original, settings)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        touched = services.stuck_jobs_sweep()

    assert touched == 1
    assert len(callbacks) == 1
    original.refresh_from_db()
    assert original.status == Status.COMPLETED
    assert original.attempts == 1


def test_stuck_jobs_sweep_leaves_jobs_within_their_lease(account, django_capture_on_commit_callbacks) -> None:
    _accepted(account, django_capture_on_commit_callbacks)

    assert services.stuck_jobs_sweep() == 0


def test_stuck_jobs_sweep_fails_a_job_that_crashed_its_worker_three_times(
    account, settings, django_capture_on_commit_callbacks
) -> None:
    original = _accepted(account, django_capture_on_commit_callbacks)
    size = original.size
    OriginalImage.objects.filter(pk=original.pk).update(status=Status.PROCESSING, attempts=3)
    _age(original, settings)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.stuck_jobs_sweep()

    original.refresh_from_db()
    assert callbacks == [] or all(callback is not None for callback in callbacks)
    assert original.status == Status.FAILED
    assert original.error_msg is not None
    assert "interrupted 3 times" in original.error_msg
    assert size is not None
    assert quota_used_this_month(account=account) == 0 < size


def test_original_image_process_skips_a_job_another_worker_holds(
    account, django_capture_on_commit_callbacks
) -> None:
    original = _accepted(account, django_capture_on_commit_callbacks)
    OriginalImage.objects.filter(pk=original.pk).update(status=Status.PROCESSING, attempts=1)

    services.original_image_process(original_image_id=original.id)

    original.refresh_from_db()
    assert (original.status, original.attempts) == (Status.PROCESSING, 1)


def test_original_image_process_takes_over_an_expired_lease_and_skips_completed_styles(
    account, settings, django_capture_on_commit_callbacks
) -> None:
    # given: a run completed the "original" style and then its worker died
    original = _accepted(account, django_capture_on_commit_callbacks)
    services.original_image_process(original_image_id=original.id)
    first = {row.style: (row.file_id, row.updated_at) for row in original.optimized_images.all()}
    OriginalImage.objects.filter(pk=original.pk).update(status=Status.PROCESSING, ended_at=None)
    original.optimized_images.exclude(style="original").update(status=Status.ENQUEUED)
    _age(original, settings)

    services.original_image_process(original_image_id=original.id)

    original.refresh_from_db()
    assert (original.status, original.attempts) == (Status.COMPLETED, 2)
    rows = {row.style: row for row in original.optimized_images.all()}
    assert (rows["original"].file_id, rows["original"].updated_at) == first["original"]
    assert rows["thumb"].file_id == first["thumb"][0]  # same deterministic key, same stored file row
    assert OptimizedImage.objects.count() == 3
    assert StoredFile.objects.count() == 4


def test_original_image_process_retries_storage_errors_then_fails(
    account, settings, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks
) -> None:
    original = _accepted(account, django_capture_on_commit_callbacks)

    def unavailable(**kwargs: object) -> bytes:
        raise StorageUnavailable()

    monkeypatch.setattr(jobs, "file_read", unavailable)

    with pytest.raises(StorageUnavailable):
        services.original_image_process(original_image_id=original.id)
    original.refresh_from_db()
    assert (original.status, original.attempts) == (Status.ENQUEUED, 1)

    for _ in range(settings.CRUSH_JOB_MAX_ATTEMPTS - 1):
        with contextlib.suppress(StorageUnavailable):
            services.original_image_process(original_image_id=original.id)

    original.refresh_from_db()
    assert original.status == Status.FAILED
    assert original.error_msg is not None
    assert "Gave up after 3 attempts" in original.error_msg


def test_original_image_complete_records_consumption(account) -> None:
    data = jpeg()

    original = services.original_image_submit(
        account=account, options=FAST, base_url=BASE, upload=upload("a.jpg", data), synchronous=True
    )

    day = ConsumptionDay.objects.get(account=account)
    main = original.optimized_images.get(style="original")
    assert (day.origin, day.bytes_before, day.bytes_after, day.files) == ("file", len(data), main.size, 1)
    assert quota_used_this_month(account=account) == len(data)


def test_original_image_retry_runs_a_failed_job_again(account, django_capture_on_commit_callbacks) -> None:
    original = _accepted(account, django_capture_on_commit_callbacks)
    lifecycle.original_fail(original_image_id=original.id, message="boom")
    assert quota_used_this_month(account=account) == 0

    with django_capture_on_commit_callbacks(execute=True):
        assert services.original_image_retry(original_image=original)

    original.refresh_from_db()
    assert original.status == Status.COMPLETED
    assert quota_used_this_month(account=account) == original.size


def test_original_image_delete_removes_rows_and_files(account, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        original = services.original_image_submit(
            account=account,
            options=FAST,
            base_url=BASE,
            upload=upload("a.jpg", jpeg()),
            synchronous=True,
        )
    keys = list(StoredFile.objects.values_list("key", flat=True))
    assert len(keys) == 4 and all(storage.files_storage().exists(key) for key in keys)

    with django_capture_on_commit_callbacks(execute=True):
        services.original_image_delete(original_image=original)

    assert not OriginalImage.objects.exists() and not StoredFile.objects.exists()
    assert not any(storage.files_storage().exists(key) for key in keys)
    with pytest.raises(NotFound):
        selectors.original_image_get(account=account, original_image_id=original.id)


def test_original_image_get_hides_other_accounts(account) -> None:
    from tests.factories import AccountFactory

    original = services.original_image_submit(
        account=account, options=FAST, base_url=BASE, upload=upload("a.jpg", jpeg()), synchronous=True
    )

    with pytest.raises(NotFound):
        selectors.original_image_get(account=AccountFactory.create(), original_image_id=original.id)


def test_expired_files_purge_deletes_files_and_links_answer_404(account) -> None:
    original = services.original_image_submit(
        account=account, options=FAST, base_url=BASE, upload=upload("a.jpg", jpeg()), synchronous=True
    )
    assert original.file is not None
    token, key = original.file.token, original.file.key
    assert selectors.stored_file_get(token=token).key == key
    StoredFile.objects.update(expire_at=timezone.now() - datetime.timedelta(seconds=1))

    purged = services.expired_files_purge()

    assert purged == 4
    assert not storage.files_storage().exists(key)
    with pytest.raises(NotFound):
        selectors.stored_file_get(token=token)
    assert services.expired_files_purge() == 0


def test_stored_file_tokens_are_unguessable_and_keys_hide_the_filename(account) -> None:
    original = services.original_image_submit(
        account=account,
        options=FAST,
        base_url=BASE,
        upload=upload("../../etc/My Secret Photo.jpg", jpeg()),
        synchronous=True,
    )

    files = list(StoredFile.objects.all())
    assert original.filename == "My Secret Photo.jpg"
    assert all(len(stored.token) >= 22 for stored in files)  # ≥ 128 bits in url-safe base64
    assert len({stored.token for stored in files}) == 4
    assert not any("Secret" in stored.key or ".." in stored.key for stored in files)
    assert original.file is not None
    assert original.file.token not in original.file.key


def test_original_image_list_prefetches_without_per_row_queries(account, django_assert_num_queries) -> None:
    from compression.presenters import original_image_data

    for _ in range(3):
        services.original_image_submit(
            account=account,
            options=FAST,
            base_url=BASE,
            upload=upload("a.jpg", jpeg()),
            synchronous=True,
        )

    with django_assert_num_queries(2):
        data = [
            original_image_data(row, base_url=BASE) for row in selectors.original_image_list(account=account)
        ]

    assert len(data) == 3 and all(len(row["optimized_images"]) == 3 for row in data)
    assert data[0]["id"] > data[1]["id"]
    assert data[0]["link"].startswith(f"{BASE}/v1/files/")
    assert (
        data[0]["optimized_images"][1]["saved_bytes"]
        == data[0]["size"] - data[0]["optimized_images"][1]["size"]
    )


def test_original_image_process_ends_a_style_when_the_engine_breaks(
    account, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks
) -> None:
    original = _accepted(account, django_capture_on_commit_callbacks)
    real_compress = engine.compress

    def broken_for_resizes(data: bytes, **kwargs: Any) -> engine.Result:
        if kwargs.get("resize") is not None:
            raise ModuleNotFoundError("compression.engine.something")
        return real_compress(data, **kwargs)

    monkeypatch.setattr(engine, "compress", broken_for_resizes)

    services.original_image_process(original_image_id=original.id)

    original.refresh_from_db()
    statuses = dict(original.optimized_images.values_list("style", "status"))
    assert original.status == Status.COMPLETED
    assert statuses == {"original": Status.COMPLETED, "thumb": Status.FAILED, "square": Status.FAILED}
    assert original.optimized_images.get(style="thumb").error_msg == services.INTERNAL_ERROR_MESSAGE


def test_async_end_emits_one_webhook_event_in_the_same_transaction(
    account, django_capture_on_commit_callbacks
) -> None:
    import json

    from webhooks.models import WebhookEvent
    from webhooks.services import callback_url_create

    callback_url_create(account=account, url="http://127.0.0.1:9/hook")  # never contacted here
    original = _accepted(account, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks():  # deliveries are not attempted here
        services.original_image_process(original_image_id=original.id)
        services.original_image_process(original_image_id=original.id)  # a redelivered task adds nothing

    event = WebhookEvent.objects.get()
    body = json.loads(event.body)
    assert (event.event_type, event.image_id) == ("optimized", original.id)
    assert body["shop_identifier"] == account.login
    assert body["quota_usage"] == original.size
    assert body["original_image"]["status"] == "completed"
    assert [row["style"] for row in body["optimized_images"]] == ["original", "thumb", "square"]
    assert body["optimized_images"][0]["link"].startswith(f"{BASE}/v1/files/")


def test_failed_async_job_emits_error_and_sync_jobs_emit_nothing(
    account, django_capture_on_commit_callbacks
) -> None:
    from webhooks.models import WebhookEvent
    from webhooks.services import callback_url_create

    callback_url_create(account=account, url="http://127.0.0.1:9/hook")  # never contacted here
    services.original_image_submit(
        account=account, options=FAST, base_url=BASE, upload=upload("a.jpg", jpeg()), synchronous=True
    )
    assert not WebhookEvent.objects.exists()
    original = _accepted(account, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks():
        lifecycle.original_fail(original_image_id=original.id, message="boom")

    assert list(WebhookEvent.objects.values_list("event_type", flat=True)) == ["error"]


def test_retrying_failed_styles_of_a_completed_original_counts_the_original_once(
    account, django_capture_on_commit_callbacks
) -> None:
    data = jpeg()
    original = services.original_image_submit(
        account=account, options=FAST, base_url=BASE, upload=upload("a.jpg", data), synchronous=True
    )
    # As if one style had failed on the first run: the ledger then counted the original and 2 files.
    style = original.optimized_images.exclude(style="original").first()
    assert style is not None
    jobs.optimized_fail(optimized=style, message="boom")
    OriginalImage.objects.filter(pk=original.pk).update(ledger_files=2)
    ConsumptionDay.objects.filter(account=account).update(optimized_files=2)
    before = ConsumptionDay.objects.get(account=account)

    with django_capture_on_commit_callbacks(execute=True):
        assert services.original_image_retry(original_image=original)

    original.refresh_from_db()
    after = ConsumptionDay.objects.get(account=account)
    assert original.status == Status.COMPLETED and original.ledger_files == 3
    assert (after.files, after.bytes_before, after.bytes_after) == (1, len(data), before.bytes_after)
    assert after.optimized_files == 3


def test_original_image_process_of_one_output_without_callback_urls_costs_few_statements(
    account, django_capture_on_commit_callbacks, django_assert_max_num_queries
) -> None:
    # given: an accepted async job with one output, and no callback URL (no event to write)
    with django_capture_on_commit_callbacks():
        original = services.original_image_submit(
            account=account,
            options=options(compression_type="lossy", resize=()),
            base_url=BASE,
            upload=upload("a.jpg", jpeg()),
            synchronous=False,
        )

    # when: claim (lock, update), the outputs to make, the output's file row (one upsert) and status, the end
    # (lock, one read of every output, ledger, status) and whether an event is wanted — plus the SAVEPOINT and
    # RELEASE the test transaction turns each atomic block into
    with django_assert_max_num_queries(18):
        services.original_image_process(original_image_id=original.id)

    # then
    original.refresh_from_db()
    main = original.optimized_images.get()
    assert (original.status, main.status) == (Status.COMPLETED, Status.COMPLETED)
    assert main.file is not None and main.file.size == main.size == len(storage.file_read(key=main.file.key))
    day = ConsumptionDay.objects.get(account=account)
    assert (day.files, day.optimized_files, day.bytes_after) == (1, 1, main.size)


def test_original_image_process_run_again_overwrites_its_file_row(
    account, django_capture_on_commit_callbacks
) -> None:
    # given: a completed job whose original style failed afterwards, as a retry of failed styles finds it
    original = _accepted(account, django_capture_on_commit_callbacks)
    services.original_image_process(original_image_id=original.id)
    main = original.optimized_images.get(style=OptimizedImage.ORIGINAL_STYLE)
    first = main.file
    OptimizedImage.objects.filter(pk=main.pk).update(status=Status.FAILED)

    # when
    with django_capture_on_commit_callbacks(execute=True):
        assert services.original_image_retry(original_image=original)

    # then: the same stored file row (same key, token kept), rewritten
    main.refresh_from_db()
    assert main.status == Status.COMPLETED
    assert main.file is not None and first is not None
    assert (main.file.pk, main.file.key, main.file.token) == (first.pk, first.key, first.token)
    assert StoredFile.objects.filter(key=first.key).count() == 1
