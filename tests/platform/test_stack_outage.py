"""The whole stack of `make run` (honcho: web, worker, webhooks, beat, as in the Procfile) survives Redis
going away for a minute and coming back empty: no process exits, the API answers throughout, and every job —
queued in the lost Redis or accepted during the outage — completes once Redis is back (issue 13).

A private `redis-server` (nothing on disk) is broker and cache; the machine's shared Redis is never stopped.
Waits are bounded to fail instead of hanging; how long recovery takes is measured by bench/faults.py.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings

from compression.models import OriginalImage, Status
from tests.compression.pipeline_support import jpeg
from tests.live_web import live_web_environment
from tests.private_redis import free_port, needs_redis_server, redis_server

pytestmark = [pytest.mark.slow, needs_redis_server, pytest.mark.django_db(transaction=True)]

OUTAGE_SECONDS = 60  # the bound for an outage every process must outlive
START_SECONDS = 120
END_SECONDS = 240
QUEUED_JOBS = 10
HONCHO = [sys.executable, "-m", "crush.honcho_run", "--procfile", "Procfile", "start"]


class Stack:
    """`python -m crush.honcho_run --procfile Procfile start` (what `make run` execs), in its own session."""

    def __init__(self, *, port: int, broker_url: str, log_path: Path) -> None:  # starts it
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        environment = live_web_environment(
            {
                "CELERY_BROKER_URL": broker_url,
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
                "WEB_CONCURRENCY": "1",
                "CRUSH_WORKER_CONCURRENCY": "2",
                "CRUSH_WEBHOOK_CONCURRENCY": "4",
                "CRUSH_WORKER_GRACE_SECONDS": "5",
            }
        )
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [*HONCHO, "--port", str(port)],
                cwd=settings.BASE_DIR,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def assert_all_running(self) -> None:
        """honcho stops every process as soon as one exits, and logs it: both would show here."""
        log = self.log()
        assert self.process.poll() is None and " stopped (rc=" not in log, log[-6000:]

    def get(self, path: str, token: str) -> requests.Response:
        return requests.get(f"{self.url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30)

    def submit(self, token: str, data: bytes) -> int:
        response = requests.post(
            f"{self.url}/v1/original_images",
            headers={"Authorization": f"Bearer {token}"},
            files={"file": ("photo.jpg", data, "image/jpeg")},
            data={"compression_type": "balanced"},
            timeout=60,
        )
        assert response.status_code == 200, response.text
        return int(response.json()["original_image"]["id"])

    def wait(self, predicate, what: str, seconds: float) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + seconds
        while not predicate():
            if time.monotonic() > deadline:
                pytest.fail(f"gave up waiting for {what}; stack log:\n{self.log()[-8000:]}")
            time.sleep(0.5)

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def _ready(stack: Stack) -> bool:
    with contextlib.suppress(requests.RequestException):
        return requests.get(f"{stack.url}/health/ready", timeout=10).status_code == 200
    return False


def _workers_ready(stack: Stack) -> bool:
    log = stack.log()
    return "celery@" in log and "webhooks@" in log and log.count(" ready.") >= 2


@pytest.fixture
def stack_start(tmp_path):  # type: ignore[no-untyped-def]
    """Starts the stack on a broker URL; it is stopped at teardown."""
    started: list[Stack] = []

    def start(broker_url: str) -> Stack:
        stack = Stack(
            port=free_port(), broker_url=broker_url, log_path=tmp_path / f"stack-{len(started)}.log"
        )
        started.append(stack)
        return stack

    yield start
    for stack in started:
        stack.stop()


def test_make_run_outlives_a_minute_without_redis_and_completes_every_job(
    account, token, stack_start
) -> None:
    redis_port = free_port()
    photo = jpeg(1200, 900)
    with redis_server(redis_port):
        stack = stack_start(f"redis://127.0.0.1:{redis_port}/0")
        stack.wait(lambda: _ready(stack) and _workers_ready(stack), "the stack to start", START_SECONDS)
        # given: ten jobs accepted, most of them still queued in Redis
        queued = [stack.submit(token, photo) for _ in range(QUEUED_JOBS)]
    # when: Redis disappears for a minute, and everything it held with it (redis-server was SIGKILLed)
    outage_ends = time.monotonic() + OUTAGE_SECONDS
    during: list[int] = []
    # then: every process stays up and the API answers throughout
    while time.monotonic() < outage_ends:
        stack.assert_all_running()
        assert stack.get("/v1/shop", token).status_code == 200
        assert stack.get("/v1/original_images", token).status_code == 200
        if len(during) < 2:
            during.append(stack.submit(token, photo))  # accepted, kept for when Redis is back
        time.sleep(2)
    ready = requests.get(f"{stack.url}/health/ready", timeout=30)
    assert (ready.status_code, ready.json()["failing"]) == (503, ["broker"])

    # and once Redis is back — empty — every job completes, each in one run
    with redis_server(redis_port):
        ids = queued + during
        stack.wait(
            lambda: OriginalImage.objects.filter(id__in=ids, status=Status.COMPLETED).count() == len(ids),
            "every job to complete",
            END_SECONDS,
        )
        stack.assert_all_running()
        assert _ready(stack)
    attempts = list(OriginalImage.objects.filter(id__in=ids).values_list("attempts", flat=True))
    assert all(count == 1 for count in attempts), attempts
