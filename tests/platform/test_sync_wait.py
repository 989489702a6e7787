"""Synchronous requests wait for a `sync` worker without holding up the API, and answer the job as it stands
once CRUSH_SYNC_WAIT_SECONDS have passed; the job goes on and is notified like an asynchronous one (issue 14).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
import requests

from compression import services
from compression.models import OriginalImage, Status
from crush.celery import app as celery_app
from tests.compression.pipeline_support import jpeg, options, upload
from tests.live_web import LiveWeb
from webhooks.models import WebhookEvent
from webhooks.services import callback_url_create

BASE = "https://crush.test"


@pytest.fixture
def no_worker(settings):  # type: ignore[no-untyped-def]
    """Messages are really published (to this run's broker) and no worker consumes the `sync` queue."""
    settings.CRUSH_SYNC_WAIT_SECONDS = 0.3
    celery_app.conf.task_always_eager = False
    yield
    celery_app.conf.task_always_eager = True


@pytest.mark.django_db(transaction=True)
def test_a_sync_job_not_ended_in_time_is_answered_as_it_stands_and_notified_when_it_ends(
    account, no_worker
) -> None:
    callback_url_create(account=account, url="http://127.0.0.1:9/crush")
    # when: nothing runs the job within the wait
    original = services.original_image_submit(
        account=account, options=options(), base_url=BASE, upload=upload("a.jpg", jpeg()), synchronous=True
    )
    # then: the caller gets the job as it stands, now an asynchronous one
    assert original.status == Status.ENQUEUED
    assert OriginalImage.objects.get(pk=original.pk).synchronous is False
    # and when a worker runs it later, it completes and its end is notified
    services.original_image_process(original_image_id=original.id)
    assert OriginalImage.objects.get(pk=original.pk).status == Status.COMPLETED
    assert WebhookEvent.objects.filter(account=account, event_type="optimized").count() == 1


def test_a_sync_job_that_ends_in_time_is_not_notified(account) -> None:
    callback_url_create(account=account, url="http://127.0.0.1:9/crush")
    original = services.original_image_submit(
        account=account, options=options(), base_url=BASE, upload=upload("a.jpg", jpeg()), synchronous=True
    )
    assert original.status == Status.COMPLETED
    assert not WebhookEvent.objects.exists()


# --- a real gunicorn and a real `sync` worker ---------------------------------------------------------------


def _compress(web: LiveWeb, token: str, answers: list[Any]) -> None:
    answers.append(
        requests.post(
            f"{web.url}/v1/compress",
            headers={"Authorization": f"Bearer {token}"},
            files={"file": ("photo.jpg", jpeg(640, 480), "image/jpeg")},
            timeout=120,
        )
    )


@pytest.mark.slow
def test_the_api_answers_while_a_sync_request_waits_for_its_worker(
    live_web: Callable[..., LiveWeb], live_worker: Callable[..., Any], token: str
) -> None:
    web = live_web(env={"CRUSH_SYNC_WAIT_SECONDS": "100"})
    answers: list[Any] = []
    # given: a sync request waiting, no worker yet to run its job
    waiting = threading.Thread(target=_compress, args=(web, token, answers))
    waiting.start()
    try:
        # when: other requests arrive meanwhile
        shop = requests.get(f"{web.url}/v1/shop", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        live = requests.get(f"{web.url}/health/live", timeout=30)
        # then: they are answered while it still waits
        assert (shop.status_code, live.status_code) == (200, 200)
        assert waiting.is_alive() and not answers
    finally:
        # and once a sync worker runs the job, the waiting request gets it completed
        live_worker(queues="sync")
        waiting.join(timeout=150)
    assert answers and answers[0].status_code == 200, answers
    assert answers[0].json()["original_image"]["status"] == "completed"


@pytest.mark.slow
def test_a_sync_request_past_its_wait_is_a_200_with_the_job_as_it_stands(
    live_web: Callable[..., LiveWeb], token: str
) -> None:
    web = live_web(env={"CRUSH_SYNC_WAIT_SECONDS": "1"})
    answers: list[Any] = []
    _compress(web, token, answers)  # no worker consumes the sync queue
    assert answers[0].status_code == 200, answers[0].text
    original = answers[0].json()["original_image"]
    assert original["status"] == "enqueued"
    assert OriginalImage.objects.get(pk=original["id"]).synchronous is False
