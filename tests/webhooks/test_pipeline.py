"""Async submission → processing → webhook to a loopback receiver, with eager Celery (tests/conftest.py).

The pipeline ends the original and emits the event in one transaction; the delivery is enqueued on commit.
"""

import io
import json
from urllib.parse import urlsplit

import pyvips
from standardwebhooks import Webhook

from webhooks.models import DeliveryStatus, WebhookEvent


def jpeg_upload(name: str = "photo.jpg") -> io.BytesIO:
    image = pyvips.Image.black(64, 48).new_from_image([40, 120, 200]).cast("uchar")
    data = io.BytesIO(image.jpegsave_buffer(Q=95))
    data.name = name
    return data


def test_pipeline_async_submission_posts_a_verified_webhook_whose_link_downloads(
    api, account, callback_url_for, receiver, django_capture_on_commit_callbacks
):
    # given
    callback_url = callback_url_for(account, receiver.url_for("/hooks"))
    receiver.expect_request("/hooks", method="POST").respond_with_data("ok")

    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/v1/original_images", {"file": jpeg_upload(), "compression_type": "lossless"})

    # then
    assert response.status_code == 200, response.content
    image_id = response.json()["original_image"]["id"]
    [(request, _)] = receiver.log
    body = request.get_data()
    Webhook(callback_url.secret).verify(body, dict(request.headers))
    data = json.loads(body)
    assert data["event"] == "optimized"
    assert data["image_id"] == image_id
    assert data["shop_identifier"] == account.login
    assert data["original_image"]["id"] == image_id
    assert data["original_image"]["status"] == "completed"
    assert data["optimized_images"][0]["style"] == "original"
    assert data["optimized_images"][0]["status"] == "completed"
    download = api.get(urlsplit(data["optimized_images"][0]["link"]).path)
    assert download.status_code == 200
    content = b"".join(download.streaming_content) if download.streaming else download.content
    assert content[:2] == b"\xff\xd8"
    assert WebhookEvent.objects.get().deliveries.get().status == DeliveryStatus.DELIVERED


def test_pipeline_failed_original_sends_an_error_event(
    api, account, callback_url_for, receiver, django_capture_on_commit_callbacks, settings
):
    # given: an image_url that cannot be fetched ends the original as failed
    callback_url_for(account, receiver.url_for("/hooks"))
    receiver.expect_request("/hooks", method="POST").respond_with_data("ok")
    receiver.expect_request("/missing.jpg").respond_with_data("nope", status=404)

    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/v1/original_images", {"image_url": receiver.url_for("/missing.jpg")}, format="json"
        )

    # then
    assert response.status_code == 200, response.content
    hooks = [request for request, _ in receiver.log if request.path == "/hooks"]
    assert len(hooks) == 1
    data = json.loads(hooks[0].get_data())
    assert data["event"] == "error"
    assert data["original_image"]["status"] == "failed"
    assert data["original_image"]["error_msg"]


def test_pipeline_synchronous_compress_sends_nothing(
    api, account, callback_url_for, receiver, django_capture_on_commit_callbacks
):
    # given
    callback_url_for(account, receiver.url_for("/hooks"))

    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/v1/compress", {"file": jpeg_upload(), "compression_type": "lossless"})

    # then
    assert response.status_code == 200, response.content
    assert receiver.log == []
    assert not WebhookEvent.objects.exists()
