"""Bad inputs and refused downloads: each ends as API.md says, the quota is given back, nothing breaks."""

from __future__ import annotations

import contextlib
import socket
import struct
import zlib
from collections.abc import Iterator

import pytest
from celery.exceptions import Retry

from accounts.selectors import quota_used_this_month
from compression import services
from compression.fetch import DownloadUnavailable
from compression.models import OptimizedImage, OriginalImage, Status, StoredFile
from compression.services import StyleRequest, SubmitOptions
from crush.lib.errors import FileTooLarge, QuotaExceeded, UnsupportedMedia, ValidationFailed
from tests.compression.pipeline_support import jpeg, options, upload

BASE = "https://crush.test"


def _png_declaring(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def _submit(account, *, synchronous: bool, **kwargs):  # type: ignore[no-untyped-def]
    return services.original_image_submit(
        account=account,
        options=kwargs.pop("opts", options(compression_type="lossy")),
        base_url=BASE,
        synchronous=synchronous,
        **kwargs,
    )


@pytest.mark.parametrize("synchronous", [True, False])
@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("text.png", b"this is not an image at all\n"),
        ("empty.jpg", b""),
        ("bomb.png", _png_declaring(50_000, 50_000)),
    ],
    ids=["text-named-png", "zero-bytes", "pixel-bomb"],
)
def test_original_image_submit_refuses_unreadable_upload_with_415(
    account, synchronous: bool, name: str, data: bytes
) -> None:
    with pytest.raises(UnsupportedMedia) as caught:
        _submit(account, synchronous=synchronous, upload=upload(name, data))

    assert caught.value.status == 415
    assert not OriginalImage.objects.exists()
    assert quota_used_this_month(account=account) == 0


def test_original_image_submit_sync_truncated_jpeg_raises_415_and_releases_quota(account) -> None:
    data = jpeg(400, 300)

    with pytest.raises(UnsupportedMedia):
        _submit(account, synchronous=True, upload=upload("cut.jpg", data[: len(data) // 2]))

    assert not OriginalImage.objects.exists()
    assert not StoredFile.objects.exists()
    assert quota_used_this_month(account=account) == 0


def test_original_image_process_truncated_jpeg_fails_job_and_releases_quota(
    account, django_capture_on_commit_callbacks
) -> None:
    data = jpeg(400, 300)[:3000]

    with django_capture_on_commit_callbacks(execute=True):
        original = _submit(account, synchronous=False, upload=upload("cut.jpg", data))

    original.refresh_from_db()
    assert original.status == Status.FAILED
    assert original.error_msg
    assert set(original.optimized_images.values_list("status", flat=True)) == {Status.FAILED}
    assert quota_used_this_month(account=account) == 0


@pytest.mark.parametrize("synchronous", [True, False])
def test_original_image_submit_over_file_max_size_raises_413(account, synchronous: bool) -> None:
    account.file_max_size = 1000
    account.save()

    with pytest.raises(FileTooLarge) as caught:
        _submit(account, synchronous=synchronous, upload=upload("big.jpg", jpeg(200, 200)))

    assert caught.value.status == 413
    assert not OriginalImage.objects.exists()


@pytest.mark.parametrize("synchronous", [True, False])
def test_original_image_submit_exhausted_quota_raises_403(account, synchronous: bool) -> None:
    data = jpeg()
    account.plan_bytes = len(data) + 10
    account.save()
    _submit(account, synchronous=True, upload=upload("first.jpg", data))

    with pytest.raises(QuotaExceeded) as caught:
        _submit(account, synchronous=synchronous, upload=upload("second.jpg", data))

    assert caught.value.status == 403
    assert OriginalImage.objects.count() == 1
    assert quota_used_this_month(account=account) == len(data)


@pytest.mark.parametrize(
    ("resize", "field"),
    [
        ((StyleRequest("original", "fit", 10, 10),), "resize"),
        ((StyleRequest("a", "fit", 10, 10), StyleRequest("a", "fit", 20, 20)), "resize"),
        ((StyleRequest("a", "sideways", 10, 10),), "resize"),
        ((StyleRequest("a", "exact", 10, None),), "resize"),
        (tuple(StyleRequest(f"s{index}", "fit", 10, 10) for index in range(11)), "resize"),
    ],
    ids=["reserved-name", "duplicate", "unknown-strategy", "missing-height", "too-many"],
)
def test_original_image_submit_invalid_style_raises_422(account, resize, field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        _submit(account, synchronous=True, upload=upload("a.jpg", jpeg()), opts=SubmitOptions(resize=resize))

    assert caught.value.status == 422
    assert list(caught.value.message) == [field]


@pytest.mark.parametrize("url", ["ftp://example.com/a.png", "file:///etc/passwd", "http://"])
def test_original_image_submit_bad_url_raises_422(account, url: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        _submit(account, synchronous=False, image_url=url)

    assert list(caught.value.message) == ["image_url"]


# --- image_url ---------------------------------------------------------------------------------------------


def test_original_image_submit_url_sync_downloads_with_basic_auth(account, httpserver) -> None:
    data = jpeg()
    httpserver.expect_request(
        "/img/photo.jpg", headers={"Authorization": "Basic dXNlcjpwYXNz"}
    ).respond_with_data(data, content_type="image/jpeg")
    url = httpserver.url_for("/img/photo.jpg").replace("http://", "http://user:pass@")

    original = _submit(account, synchronous=True, image_url=url)

    assert original.status == Status.COMPLETED
    assert original.filename == "photo.jpg"
    assert original.size == len(data)
    assert original.origin == "url"
    assert quota_used_this_month(account=account) == len(data)


def test_original_image_submit_url_async_downloads_in_worker(
    account, httpserver, django_capture_on_commit_callbacks
) -> None:
    data = jpeg()
    httpserver.expect_request("/a.jpg").respond_with_data(data, content_type="image/jpeg")

    with django_capture_on_commit_callbacks() as callbacks:
        original = _submit(account, synchronous=False, image_url=httpserver.url_for("/a.jpg"))
    assert original.status == Status.ENQUEUED
    assert original.size is None and original.width is None
    for callback in callbacks:
        callback()

    original.refresh_from_db()
    assert original.status == Status.COMPLETED, original.error_msg
    assert (original.size, original.width, original.height) == (len(data), 120, 80)
    assert OptimizedImage.objects.filter(original=original, status=Status.COMPLETED).count() == 3


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A listening socket that never answers: connections complete (kernel backlog), reads time out."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield f"http://127.0.0.1:{server.getsockname()[1]}/slow.jpg"


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("404", "HTTP 404"),
        ("timeout", "did not answer in time"),
        ("redirect-loopback", "loopback"),
        ("too-large", "file_max_size"),
        ("not-an-image", "not supported"),
    ],
)
@pytest.mark.parametrize("synchronous", [True, False])
def test_original_image_submit_url_refusals(
    account,
    httpserver,
    silent_server,
    settings,
    django_capture_on_commit_callbacks,
    case: str,
    message: str,
    synchronous: bool,
) -> None:
    settings.CRUSH_FETCH_READ_TIMEOUT_SECONDS = 0.3
    settings.CRUSH_FETCH_TOTAL_TIMEOUT_SECONDS = 1.0
    url = httpserver.url_for(f"/{case}")
    if case == "404":
        httpserver.expect_request("/404").respond_with_data("nope", status=404)
    elif case == "timeout":
        url = silent_server
    elif case == "redirect-loopback":
        # the public name resolves to a documentation-free global address; its answer redirects to loopback
        url = "http://93.184.215.14/start"
        settings.CRUSH_ALLOW_PRIVATE_URLS = False
    elif case == "too-large":
        account.file_max_size = 2000
        account.save()
        httpserver.expect_request("/too-large").respond_with_data(jpeg(300, 300), content_type="image/jpeg")
    else:
        httpserver.expect_request("/not-an-image").respond_with_data(
            "<html>hi</html>", content_type="text/html"
        )
    used_before = quota_used_this_month(account=account)

    if case == "redirect-loopback":
        pytest.importorskip("crush.lib.netguard")
        _patch_public_redirect(httpserver, url)
    if synchronous:
        with pytest.raises((ValidationFailed, FileTooLarge, UnsupportedMedia)) as caught:
            _submit(account, synchronous=True, image_url=url)
        assert message in str(caught.value.message)
        assert not OriginalImage.objects.exists()
    else:
        with django_capture_on_commit_callbacks() as callbacks:
            original = _submit(account, synchronous=False, image_url=url)
        with contextlib.suppress(Retry):  # a transient failure (timeout) is retried by Celery ...
            callbacks[0]()
        for _ in range(
            settings.CRUSH_JOB_MAX_ATTEMPTS - 1
        ):  # ... which eager mode does not do: run them here
            with contextlib.suppress(DownloadUnavailable):
                services.original_image_process(original_image_id=original.id)
        original.refresh_from_db()
        assert original.status == Status.FAILED
        assert message in original.error_msg
    assert quota_used_this_month(account=account) == used_before


def _patch_public_redirect(httpserver, url: str) -> None:  # type: ignore[no-untyped-def]
    """Lets the first hop reach the local test server as if it were a public address (the test's only fake:
    the public internet), and makes it redirect to 127.0.0.1, which the guard must refuse."""
    import pytest as _pytest

    from crush.lib import netguard

    monkeypatch = _pytest.MonkeyPatch()
    real_pool = netguard.client._pool

    def pool(target, address, timeout):  # type: ignore[no-untyped-def]
        if str(address) == "93.184.215.14":
            return real_pool(
                target.__class__(**{**_fields(target), "port": httpserver.port}), _loopback(), timeout
            )
        return real_pool(target, address, timeout)

    monkeypatch.setattr(netguard.client, "_pool", pool)
    httpserver.expect_request("/start").respond_with_data(
        "", status=302, headers={"Location": httpserver.url_for("/secret")}
    )
    httpserver.expect_request("/secret").respond_with_data(jpeg(), content_type="image/jpeg")
    _PATCHES.append(monkeypatch)


_PATCHES: list[pytest.MonkeyPatch] = []


@pytest.fixture(autouse=True)
def _undo_patches():  # type: ignore[no-untyped-def]
    yield
    while _PATCHES:
        _PATCHES.pop().undo()


def _fields(target):  # type: ignore[no-untyped-def]
    return {name: getattr(target, name) for name in target.__slots__}


def _loopback():  # type: ignore[no-untyped-def]
    import ipaddress

    return ipaddress.ip_address("127.0.0.1")
