"""The export service: the zip copied chunk by chunk, its entry names, a redelivered build, the admin page."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from django.utils import timezone

from compression import services, storage
from compression.models import Export, OriginalImage, Status, StoredFile
from compression.selectors import ExportSource
from compression.services import export as export_service
from compression.services.export import _entry_name, export_build, export_start
from tests.compression.pipeline_support import jpeg, options, upload

BASE = "https://crush.test"
FAST = options(compression_type="lossy", resize=())


def _source(original_id: int, style: str | None, filename: str) -> ExportSource:
    return ExportSource(original_id, style, filename, "key", 1, timezone.now())


def _zip_of(export: Export) -> zipfile.ZipFile:
    assert export.file is not None
    return zipfile.ZipFile(io.BytesIO(storage.file_read(key=export.file.key)))


def test_file_chunks_reads_a_stored_file_in_chunks_of_the_size_asked() -> None:
    key = storage.export_key(export_id=424242)
    storage.file_put(key=key, data=b"x" * 250)

    sizes = [len(chunk) for chunk in storage.file_chunks(key=key, chunk_bytes=100)]

    assert sizes == [100, 100, 50]
    storage.file_delete(key=key)


def test_export_entry_names_stay_in_their_folder_and_never_collide() -> None:
    taken: set[str] = set()

    names = [
        _entry_name(_source(7, "original", "photo.jpg"), taken),
        _entry_name(_source(7, "../../etc", "photo.jpg"), taken),
        _entry_name(_source(7, "a/b", ".."), taken),
        _entry_name(_source(7, "a_b", ".."), taken),
        _entry_name(_source(8, None, ""), taken),
    ]

    assert names == ["7/photo.jpg", "7/.._.._etc/photo.jpg", "7/a_b/_", "7/a_b/_-2", "8/file"]


def test_export_copies_each_file_chunk_by_chunk(account: Any, monkeypatch: Any) -> None:
    services.original_image_submit(
        account=account, options=FAST, base_url=BASE, upload=upload("a.jpg", jpeg(200, 150)), synchronous=True
    )
    monkeypatch.setattr(export_service, "CHUNK_BYTES", 512)
    read: list[int] = []
    real_chunks = export_service.file_chunks

    def recorded(*, key: str, chunk_bytes: int) -> Any:
        for chunk in real_chunks(key=key, chunk_bytes=chunk_bytes):
            read.append(len(chunk))
            yield chunk

    monkeypatch.setattr(export_service, "file_chunks", recorded)
    export = Export.objects.create(account=account, type="original", expire_at=timezone.now())

    export_build(export_id=export.id)

    export.refresh_from_db()
    original = OriginalImage.objects.get(account=account)
    assert (export.status, export.files) == (Status.COMPLETED, 1)
    assert len(read) > 1 and max(read) <= 512
    assert sum(read) == original.size
    assert _zip_of(export).read(f"{original.id}/a.jpg") == jpeg(200, 150)


def test_export_leaves_out_a_file_gone_from_storage(account: Any) -> None:
    for name in ("a.jpg", "b.jpg"):
        services.original_image_submit(
            account=account, options=FAST, base_url=BASE, upload=upload(name, jpeg()), synchronous=True
        )
    gone = OriginalImage.objects.get(filename="a.jpg")
    assert gone.file is not None
    storage.file_delete(key=gone.file.key)
    export = Export.objects.create(account=account, type="original", expire_at=timezone.now())

    export_build(export_id=export.id)

    export.refresh_from_db()
    kept = OriginalImage.objects.get(filename="b.jpg")
    assert (export.status, export.files) == (Status.COMPLETED, 1)
    assert _zip_of(export).namelist() == [f"{kept.id}/b.jpg"]


def test_export_build_redelivered_after_it_ended_does_nothing(
    account: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        export = export_start(account=account, export_type="optimized")
    export.refresh_from_db()
    assert export.status == Status.COMPLETED

    export_build(export_id=export.id)

    assert StoredFile.objects.filter(key=storage.export_key(export_id=export.id)).count() == 1
    assert Export.objects.get(pk=export.id).updated_at == export.updated_at


def test_admin_export_pages_render_read_only(
    admin_client: Any, account: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        export = export_start(account=account, export_type="optimized")
    url = "/admin/compression/export/"

    listed = admin_client.get(url)
    detail = admin_client.get(f"{url}{export.pk}/change/")

    assert listed.status_code == detail.status_code == 200
    assert admin_client.get(f"{url}add/").status_code == 403
    assert b'name="_save"' not in detail.content
