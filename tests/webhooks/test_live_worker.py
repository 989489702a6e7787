"""With real worker processes on this run's broker (filesystem in the embedded default, Redis in CI).

Waiting is bounded only to fail instead of hanging; nothing asserts how long anything took.
"""

import json
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from standardwebhooks import Webhook

from tests.webhooks.test_pipeline import jpeg_upload
from webhooks import services
from webhooks.models import Delivery, DeliveryStatus

WAIT_LIMIT_SECONDS = 180  # generous: two shared cores, a cold worker start


def wait_for(condition: Callable[[], bool], *, workers: list, what: str) -> None:  # type: ignore[type-arg]
    deadline = time.monotonic() + WAIT_LIMIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            logs = "\n".join(worker.log()[-4000:] for worker in workers)
            raise AssertionError(f"gave up waiting for {what}; worker logs:\n{logs}")
        time.sleep(0.2)


def test_live_async_submission_reaches_the_receiver_signed_and_its_link_downloads(
    live_worker, api, account, callback_url_for, receiver
):
    # given
    callback_url = callback_url_for(account, receiver.url_for("/hooks"))
    receiver.expect_request("/hooks", method="POST").respond_with_data("ok")
    worker = live_worker()

    # when
    response = api.post("/v1/original_images", {"file": jpeg_upload(), "compression_type": "lossless"})
    wait_for(lambda: len(receiver.log) > 0, workers=[worker], what="the webhook")

    # then
    assert response.status_code == 200
    request = receiver.log[0][0]
    Webhook(callback_url.secret).verify(request.get_data(), dict(request.headers))
    data = json.loads(request.get_data())
    assert data["event"] == "optimized"
    assert data["image_id"] == response.json()["original_image"]["id"]
    download = api.get(urlsplit(data["optimized_images"][0]["link"]).path)
    assert download.status_code == 200
    wait_for(
        lambda: Delivery.objects.filter(status=DeliveryStatus.DELIVERED).exists(),
        workers=[worker],
        what="the delivery to be recorded",
    )


def test_live_delivery_survives_the_worker_being_killed_after_the_event_write(
    live_worker, api, account, callback_url_for, receiver, settings
):
    # given: the only worker consumes compression, not webhooks; it is SIGKILLed as soon as the event is
    # written, so the delivery message may or may not have reached the broker
    settings.CRUSH_WEBHOOK_REQUEUE_AFTER_SECONDS = 0
    callback_url = callback_url_for(account, receiver.url_for("/hooks"))
    receiver.expect_request("/hooks", method="POST").respond_with_data("ok")
    compressor = live_worker(queues="compression")
    api.post("/v1/original_images", {"file": jpeg_upload(), "compression_type": "lossless"})
    wait_for(lambda: Delivery.objects.exists(), workers=[compressor], what="the event")
    compressor.kill()
    assert receiver.log == []

    # when: beat's sweeper runs, and a webhooks worker starts
    services.deliveries_requeue_lost()
    dispatcher = live_worker(queues="webhooks")
    wait_for(lambda: len(receiver.log) > 0, workers=[dispatcher], what="the webhook")

    # then
    request = receiver.log[0][0]
    Webhook(callback_url.secret).verify(request.get_data(), dict(request.headers))
    assert request.headers["webhook-id"] == Delivery.objects.get().event.public_id
    wait_for(
        lambda: Delivery.objects.filter(status=DeliveryStatus.DELIVERED).exists(),
        workers=[dispatcher],
        what="the delivery to be recorded",
    )
    assert len(receiver.log) == 1  # the possible second message found the attempt already made
