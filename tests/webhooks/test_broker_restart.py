"""A broker restart that loses the queued delivery message loses no webhook (issue 5).

A private `redis-server` (nothing on disk) is the broker: the machine's shared Redis is never restarted.
Waiting is bounded only to fail instead of hanging; nothing asserts how long anything took.
"""

import time
from collections.abc import Callable

import pytest
from django.db import transaction
from standardwebhooks import Webhook

from tests.private_redis import (
    broker,
    free_port,
    needs_redis_server,
    producer_reset,
    queue_length,
    redis_server,
)
from tests.webhooks.conftest import sample_payload
from webhooks import services
from webhooks.models import Delivery, DeliveryAttempt, DeliveryStatus

WAIT_LIMIT_SECONDS = 180  # generous: two shared cores, a cold worker start
QUEUE = "webhooks"

pytestmark = [
    pytest.mark.slow,
    needs_redis_server,
]


def _wait_for(condition: Callable[[], bool], *, worker, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + WAIT_LIMIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}; worker log:\n{worker.log()[-4000:]}")
        time.sleep(0.2)


def test_delivery_queued_in_a_redis_that_restarts_empty_still_arrives_once_and_signed(
    live_worker, account, callback_url_for, receiver, settings, monkeypatch
):
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    settings.CRUSH_WEBHOOK_REQUEUE_AFTER_SECONDS = 0  # the sweeper takes the message as lost at once
    callback_url = callback_url_for(account, receiver.url_for("/hooks"))
    receiver.expect_request("/hooks", method="POST").respond_with_data("ok")
    with broker(url, monkeypatch):
        # given: an event whose delivery message sits in Redis, no worker consuming it
        with redis_server(port):
            with transaction.atomic():
                event = services.original_image_event_emit(
                    account=account,
                    event="optimized",
                    original_image_id=5,
                    payload=sample_payload(account=account),
                )
            assert event is not None
            assert queue_length(port, QUEUE) == 1

        # when: Redis restarts empty, beat's sweeper runs, a webhooks worker starts
        with redis_server(port):
            producer_reset()
            assert queue_length(port, QUEUE) == 0
            assert services.deliveries_requeue_lost() == 1
            assert queue_length(port, QUEUE) == 1
            worker = live_worker(queues=QUEUE, env={"CELERY_BROKER_URL": url})
            _wait_for(
                lambda: Delivery.objects.filter(status=DeliveryStatus.DELIVERED).exists(),
                worker=worker,
                what="the delivery to be recorded",
            )
            worker.stop()

    # then
    assert len(receiver.log) == 1
    request = receiver.log[0][0]
    Webhook(callback_url.secret).verify(request.get_data(), dict(request.headers))
    assert request.headers["webhook-id"] == event.public_id
    assert request.get_data().decode() == event.body
    delivery = Delivery.objects.get()
    assert delivery.attempts == 1
    assert DeliveryAttempt.objects.filter(delivery=delivery, status_code=200).count() == 1
