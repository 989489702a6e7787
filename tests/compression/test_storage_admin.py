"""Files storage (local, or S3 on the loopback S3-protocol server when AWS_* is set) and the admin actions."""

from __future__ import annotations

import os

import pytest
from django.conf import settings

from compression import services, storage
from compression.models import OriginalImage, Status, StoredFile
from tests.compression.pipeline_support import jpeg, options, upload

BASE = "https://crush.test"
FAST = options(compression_type="lossy", resize=())


def test_storage_put_read_delete_round_trip() -> None:
    key = storage.optimized_key(original_id=1, style="thumb", extension="jpg")

    name = storage.file_put(key=key, data=b"first")
    storage.file_put(key=key, data=b"second")  # a re-run overwrites, never adds "key_abc123.jpg"

    assert name == key
    assert storage.file_read(key=key) == b"second"
    storage.file_delete(key=key)
    assert not storage.files_storage().exists(key)
    storage.file_delete(key=key)  # deleting twice is harmless


def test_storage_keys_never_carry_the_style_or_filename() -> None:
    key = storage.optimized_key(original_id=7, style="../../etc/passwd thumb", extension="png")

    assert key.startswith("optimized/7/") and key.endswith(".png")
    assert ".." not in key and "passwd" not in key


@pytest.mark.skipif(
    not settings.AWS_STORAGE_BUCKET_NAME and os.environ.get("CRUSH_REQUIRE_SERVICES") != "1",
    reason="S3 is configured only when AWS_* is set (CI runs it against the loopback S3-protocol server)",
)
def test_s3_storage_upload_download_presign_delete(settings) -> None:  # type: ignore[no-untyped-def]
    settings.CRUSH_FILES_REDIRECT_TO_S3 = True
    import boto3
    import urllib3

    key = storage.original_key(original_id=99, extension="jpg")

    storage.file_put(key=key, data=b"\xff\xd8\xff-bytes")

    client = boto3.client(
        "s3",
        endpoint_url=settings.AWS_S3_ENDPOINT_URL,
        region_name=settings.AWS_S3_REGION_NAME,
        aws_access_key_id=settings.AWS_ACCESS_KEY_ID,
        aws_secret_access_key=settings.AWS_SECRET_ACCESS_KEY,
    )
    stored = client.get_object(Bucket=settings.AWS_STORAGE_BUCKET_NAME, Key=key)
    assert stored["Body"].read() == b"\xff\xd8\xff-bytes"
    assert storage.file_read(key=key) == b"\xff\xd8\xff-bytes"
    url = storage.file_download_url(key=key, filename="my photo.jpg", content_type="image/jpeg")
    assert url is not None
    answer = urllib3.request("GET", url)
    assert answer.status == 200 and answer.data == b"\xff\xd8\xff-bytes"
    assert answer.headers["Content-Type"] == "image/jpeg"
    storage.file_delete(key=key)
    assert not storage.files_storage().exists(key)


@pytest.fixture
def failed_and_completed(account):  # type: ignore[no-untyped-def]
    completed = services.original_image_submit(
        account=account, options=FAST, base_url=BASE, upload=upload("a.jpg", jpeg()), synchronous=True
    )
    failed = services.original_image_submit(
        account=account, options=FAST, base_url=BASE, upload=upload("b.jpg", jpeg()), synchronous=True
    )
    OriginalImage.objects.filter(pk=failed.pk).update(
        synchronous=False, status=Status.FAILED, error_msg="boom"
    )
    return completed, failed


def test_admin_retry_failed_action_runs_failed_jobs_again(
    admin_client, failed_and_completed, django_capture_on_commit_callbacks
) -> None:
    completed, failed = failed_and_completed
    failed.optimized_images.update(status=Status.FAILED)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/compression/originalimage/",
            {"action": "retry_failed", "_selected_action": [completed.pk, failed.pk]},
        )

    assert response.status_code == 302
    failed.refresh_from_db()
    assert failed.status == Status.COMPLETED
    assert set(failed.optimized_images.values_list("status", flat=True)) == {Status.COMPLETED}


def test_admin_delete_files_action_removes_stored_files(admin_client, failed_and_completed) -> None:
    completed, _failed = failed_and_completed
    keys = list(StoredFile.objects.filter(deleted_at=None).values_list("key", flat=True))

    response = admin_client.post(
        "/admin/compression/originalimage/", {"action": "delete_files", "_selected_action": [completed.pk]}
    )

    assert response.status_code == 302
    assert StoredFile.objects.filter(deleted_at__isnull=False).count() == 2
    assert sum(storage.files_storage().exists(key) for key in keys) == len(keys) - 2


@pytest.mark.parametrize("model", ["originalimage", "optimizedimage", "storedfile"])
def test_admin_pages_render(admin_client, failed_and_completed, model: str) -> None:
    completed, _failed = failed_and_completed
    url = f"/admin/compression/{model}/"

    assert admin_client.get(url).status_code == 200
    if model != "storedfile":
        assert admin_client.get(f"{url}?status__exact=failed").status_code == 200
    if model == "originalimage":
        assert admin_client.get(f"{url}{completed.pk}/change/").status_code == 200
