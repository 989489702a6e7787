"""The API keeps answering while the broker (Redis, also the rate limit's cache) is down, accepts jobs and
publishes them once Redis is back, even when it came back empty (issue 13).

A private `redis-server` (nothing on disk) is broker and cache: the machine's shared Redis is never stopped.
The whole stack of `make run` surviving an outage is tests/platform/test_stack_outage.py.
"""

import pytest
from django.core.cache import caches

from compression import services
from compression.models import OriginalImage, Status
from crush.celery import app as celery_app
from tests.compression.pipeline_support import jpeg
from tests.private_redis import (
    broker,
    free_port,
    needs_redis_server,
    producer_reset,
    queue_length,
    redis_server,
)

pytestmark = [needs_redis_server, pytest.mark.django_db(transaction=True)]

QUEUE = "compression"


@pytest.fixture
def outage_port(settings, monkeypatch):  # type: ignore[no-untyped-def]
    """A free port for a private Redis that is both the broker and the cache (as in production)."""
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": url,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
        }
    }
    settings.CRUSH_RATE_LIMIT = "3/min"
    celery_app.conf.task_always_eager = False  # publish for real
    try:
        # broker() first: it saves Celery's broker URL to restore it, and Celery's configuration reads
        # Django's settings, so setting CELERY_BROKER_URL first made it "restore" the private URL.
        with broker(url, monkeypatch):
            settings.CELERY_BROKER_URL = url
            yield port
    finally:
        celery_app.conf.task_always_eager = True
        caches["default"].close()


def _submit(api):  # type: ignore[no-untyped-def]
    return api.post("/v1/original_images", {"file": _upload()}, format="multipart")


def _upload():  # type: ignore[no-untyped-def]
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("photo.jpg", jpeg(), content_type="image/jpeg")


def test_with_redis_down_reads_answer_jobs_are_accepted_and_the_rate_limit_fails_open(api, outage_port):
    # given: Redis is up, then gone (nothing listens on its port)
    with redis_server(outage_port):
        assert api.get("/v1/shop").status_code == 200
    producer_reset()

    # when: a client reads, submits and goes past its rate limit (3 a minute) while Redis is down
    answers = [api.get("/v1/shop").status_code for _ in range(5)]
    listed = api.get("/v1/original_images")
    submitted = _submit(api)
    ready = api.get("/health/ready")

    # then: reads answer, the rate limit lets everything through, the job is accepted and kept for later
    assert answers == [200] * 5
    assert listed.status_code == 200
    assert submitted.status_code == 200, submitted.content
    job = OriginalImage.objects.get(pk=submitted.json()["original_image"]["id"])
    assert (job.status, job.unpublished) == (Status.ENQUEUED, True)
    # and readiness says which dependency is missing
    assert ready.status_code == 503
    assert ready.json()["failing"] == ["broker"]


def test_a_job_accepted_during_the_outage_is_published_when_redis_answers_again(api, outage_port):
    # given: a job accepted while Redis was down, and a Redis that kept its data (its marker is there)
    with redis_server(outage_port):
        services.queue_repair()  # a first worker connecting sets the marker
    producer_reset()
    job_id = _submit(api).json()["original_image"]["id"]

    with redis_server(outage_port):
        producer_reset()
        assert services.queue_repair() == 1  # the marker is gone with that Redis: everything enqueued
        assert queue_length(outage_port, QUEUE) == 1
        # when: the next repair runs on a broker that holds its marker and has the message
        assert services.queue_repair() == 0
        # then: nothing is published twice, and the job is no longer marked
        assert queue_length(outage_port, QUEUE) == 1
    assert OriginalImage.objects.get(pk=job_id).unpublished is False


def test_a_redis_restarted_empty_gets_the_messages_of_every_enqueued_job_again(api, outage_port):
    # given: three jobs whose messages sit in Redis, which then restarts empty
    with redis_server(outage_port):
        services.queue_repair()
        ids = [_submit(api).json()["original_image"]["id"] for _ in range(3)]
        assert queue_length(outage_port, QUEUE) == 3
        assert not OriginalImage.objects.filter(unpublished=True).exists()

    with redis_server(outage_port):
        producer_reset()
        assert queue_length(outage_port, QUEUE) == 0
        # when: the first worker to connect (or the sweeper) repairs the queue
        repaired = services.queue_repair()
        # then: each enqueued job has its message again, once
        assert repaired == 3
        assert queue_length(outage_port, QUEUE) == 3
        assert services.queue_repair() == 0
    assert set(OriginalImage.objects.filter(status=Status.ENQUEUED).values_list("id", flat=True)) == set(ids)
