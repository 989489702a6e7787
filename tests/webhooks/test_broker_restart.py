"""A broker restart that loses the queued delivery message loses no webhook (issue 5).

A private `redis-server` (nothing on disk) is the broker: the machine's shared Redis is never restarted.
Waiting is bounded only to fail instead of hanging; nothing asserts how long anything took.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator

import pytest
from django.db import transaction
from standardwebhooks import Webhook

from crush.celery import app as celery_app
from tests.webhooks.conftest import sample_payload
from webhooks import services
from webhooks.models import Delivery, DeliveryAttempt, DeliveryStatus

WAIT_LIMIT_SECONDS = 180  # generous: two shared cores, a cold worker start
QUEUE = "webhooks"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("redis-server") is None and os.environ.get("CRUSH_REQUIRE_SERVICES") != "1",
        reason="needs redis-server to restart a broker",
    ),
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def _redis_server(port: int) -> Iterator[None]:
    """A Redis that keeps nothing on disk; leaving the block SIGKILLs it (whatever it holds is gone)."""
    binary = shutil.which("redis-server")
    assert binary is not None, "redis-server is not on PATH"
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            assert process.poll() is None, "redis-server exited"
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
        yield
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()


def _producer_reset() -> None:
    """Drops cached broker connections and producers, so the next publish connects to broker_url afresh."""
    from kombu import pools

    pools.reset()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@contextlib.contextmanager
def _broker(url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    saved = celery_app.conf.broker_url, celery_app.conf.broker_transport_options
    _producer_reset()
    monkeypatch.setenv("CELERY_BROKER_URL", url)  # Celery reads this variable before its broker_url setting
    celery_app.conf.broker_url = url
    celery_app.conf.broker_transport_options = {"visibility_timeout": 3600}
    try:
        yield
    finally:
        _producer_reset()
        monkeypatch.undo()
        celery_app.conf.broker_url, celery_app.conf.broker_transport_options = saved


def _queue_length(port: int) -> int:
    import redis

    return int(redis.Redis(host="127.0.0.1", port=port).llen(QUEUE))


def _wait_for(condition: Callable[[], bool], *, worker, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + WAIT_LIMIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}; worker log:\n{worker.log()[-4000:]}")
        time.sleep(0.2)


def test_delivery_queued_in_a_redis_that_restarts_empty_still_arrives_once_and_signed(
    live_worker, account, callback_url_for, receiver, settings, monkeypatch
):
    port = _free_port()
    url = f"redis://127.0.0.1:{port}/0"
    settings.CRUSH_WEBHOOK_REQUEUE_AFTER_SECONDS = 0  # the sweeper takes the message as lost at once
    callback_url = callback_url_for(account, receiver.url_for("/hooks"))
    receiver.expect_request("/hooks", method="POST").respond_with_data("ok")
    with _broker(url, monkeypatch):
        # given: an event whose delivery message sits in Redis, no worker consuming it
        with _redis_server(port):
            with transaction.atomic():
                event = services.original_image_event_emit(
                    account=account,
                    event="optimized",
                    original_image_id=5,
                    payload=sample_payload(account=account),
                )
            assert event is not None
            assert _queue_length(port) == 1

        # when: Redis restarts empty, beat's sweeper runs, a webhooks worker starts
        with _redis_server(port):
            _producer_reset()
            assert _queue_length(port) == 0
            assert services.deliveries_requeue_lost() == 1
            assert _queue_length(port) == 1
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
