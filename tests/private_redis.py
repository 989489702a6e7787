"""A private, throw-away Redis broker for tests that restart the broker (the machine's Redis is shared)."""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from crush.celery import app as celery_app

needs_redis_server = pytest.mark.skipif(
    shutil.which("redis-server") is None and os.environ.get("CRUSH_REQUIRE_SERVICES") != "1",
    reason="needs redis-server to restart a broker",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def redis_server(port: int) -> Iterator[None]:
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


def producer_reset() -> None:
    """Drops cached broker connections and producers, so the next publish connects to broker_url afresh."""
    from kombu import pools

    pools.reset()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@contextlib.contextmanager
def broker(url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Points Celery (this process and workers started inside the block) at ``url``."""
    saved = celery_app.conf.broker_url, celery_app.conf.broker_transport_options
    producer_reset()
    monkeypatch.setenv("CELERY_BROKER_URL", url)  # Celery reads this variable before its broker_url setting
    celery_app.conf.broker_url = url
    celery_app.conf.broker_transport_options = {"visibility_timeout": 3600}
    try:
        yield
    finally:
        producer_reset()
        monkeypatch.undo()
        celery_app.conf.broker_url, celery_app.conf.broker_transport_options = saved


def queue_length(port: int, queue: str) -> int:
    import redis

    return int(redis.Redis(host="127.0.0.1", port=port).llen(queue))
