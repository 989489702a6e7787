"""A real gunicorn serving `crush.wsgi` on a loopback port, on this test run's database, broker and storage.

Import the fixture into a conftest (`from tests.live_web import live_web`). Request bodies as real clients
send them (chunked, streamed) only reach Django the way they do in production through a real WSGI server,
which the test client and pytest-django's `live_server` (wsgiref) are not.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings

from crush.celery import app as celery_app
from tests.conftest import database_url

START_TIMEOUT_SECONDS = 90  # Django, pyvips and the engine import on a loaded 2-core machine


@dataclass
class LiveWeb:
    url: str  # http://127.0.0.1:PORT, no trailing slash
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def live_web_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a server process that shares this run's database, broker and files."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "CRUSH_VAR_DIR": str(settings.VAR_DIR),
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": str(celery_app.conf.broker_url),
        "SECRET_KEY": settings.SECRET_KEY,
        "CRUSH_ALLOW_PRIVATE_URLS": "true" if settings.CRUSH_ALLOW_PRIVATE_URLS else "false",
        **(extra or {}),
    }


def _wait_until_live(web: LiveWeb) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if web.process.poll() is not None:
            pytest.fail(f"gunicorn exited with {web.process.returncode}:\n{web.log()}")
        with contextlib.suppress(OSError, urllib.error.URLError):
            with urllib.request.urlopen(f"{web.url}/health/live", timeout=5) as response:
                if response.status == 200:
                    return
        time.sleep(0.2)
    web.stop()
    pytest.fail(f"gunicorn did not answer within {START_TIMEOUT_SECONDS} s:\n{web.log()}")


class LiveWebServers:
    """The gunicorn servers of this test session, one per distinct extra environment."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: dict[tuple[tuple[str, str], ...], LiveWeb] = {}

    def get(self, env: dict[str, str] | None = None) -> LiveWeb:
        key = tuple(sorted((env or {}).items()))
        web = self.started.get(key)
        if web is None or web.process.poll() is not None:
            web = self.started[key] = self._start(env)
        return web

    def _start(self, env: dict[str, str] | None) -> LiveWeb:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))  # bound here and inherited: no race for the port
        port = listener.getsockname()[1]
        log_path = self.log_dir / f"gunicorn-{port}.log"
        with listener, log_path.open("wb") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "crush.wsgi",
                    "--bind",
                    f"fd://{listener.fileno()}",
                    "--workers",
                    "1",
                    "--threads",  # as the Procfile: requests waiting for a sync job must not block others
                    "4",
                    "--timeout",
                    "120",
                    "--graceful-timeout",
                    "10",
                    "--access-logfile",
                    "-",
                ],
                cwd=settings.BASE_DIR,
                env=live_web_environment(env),
                pass_fds=(listener.fileno(),),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        web = LiveWeb(url=f"http://127.0.0.1:{port}", port=port, process=process, log_path=log_path)
        _wait_until_live(web)
        return web

    def stop_all(self) -> None:
        for web in self.started.values():
            web.stop()


@pytest.fixture(scope="session")
def live_web_servers(
    django_db_setup: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveWebServers]:
    servers = LiveWebServers(tmp_path_factory.mktemp("live-web"))
    yield servers
    servers.stop_all()


@pytest.fixture
def live_web(transactional_db: None, live_web_servers: LiveWebServers) -> Callable[..., LiveWeb]:
    """`web = live_web(env={...})`: gunicorn (one threaded worker, as the Procfile's `web` line) on a free
    127.0.0.1 port, serving this run's test database, broker and storage. Servers are shared by the session
    (one per distinct `env`) and stopped at its end. Data the test writes is committed (transactional_db)
    so the server sees it."""
    return live_web_servers.get
