"""Shared fixtures. Services come from the environment: CI exports real PostgreSQL, Redis and S3 endpoints and
sets CRUSH_REQUIRE_SERVICES=1, so a missing service fails the run instead of being skipped."""

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache

from crush.celery import app as celery_app


def pytest_sessionstart(session: pytest.Session) -> None:
    if os.environ.get("CRUSH_REQUIRE_SERVICES") != "1":
        return
    missing = [
        name
        for name, ok in (
            ("PostgreSQL (DATABASE_URL)", settings.DATABASES["default"]["ENGINE"].endswith("postgresql")),
            ("Redis (CELERY_BROKER_URL)", settings.CELERY_BROKER_URL.startswith("redis")),
            ("S3 (AWS_S3_ENDPOINT_URL + AWS_STORAGE_BUCKET_NAME)", bool(settings.AWS_STORAGE_BUCKET_NAME)),
        )
        if not ok
    ]
    if missing:
        raise pytest.UsageError(f"CRUSH_REQUIRE_SERVICES=1 but not configured: {', '.join(missing)}")


@pytest.fixture(scope="session", autouse=True)
def s3_bucket() -> None:
    """Creates the bucket on the S3-protocol server when the run uses one."""
    if not settings.AWS_STORAGE_BUCKET_NAME:
        return
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=settings.AWS_S3_ENDPOINT_URL,
        region_name=settings.AWS_S3_REGION_NAME,
        aws_access_key_id=settings.AWS_ACCESS_KEY_ID,
        aws_secret_access_key=settings.AWS_SECRET_ACCESS_KEY,
    )
    existing = {bucket["Name"] for bucket in client.list_buckets().get("Buckets", [])}
    if settings.AWS_STORAGE_BUCKET_NAME not in existing:
        client.create_bucket(Bucket=settings.AWS_STORAGE_BUCKET_NAME)


@pytest.fixture(autouse=True)
def eager_celery() -> Iterator[None]:
    """Tasks run inline; django_capture_on_commit_callbacks(execute=True) runs what is enqueued on commit."""
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture(autouse=True)
def clear_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def account(db):  # type: ignore[no-untyped-def]
    from tests.factories import AccountFactory

    return AccountFactory.create()


@pytest.fixture
def token(account) -> str:  # type: ignore[no-untyped-def]
    from accounts.services import api_token_create

    return api_token_create(account=account).raw


@pytest.fixture
def api(token):  # type: ignore[no-untyped-def]
    """A DRF client authenticated with the `account` fixture's Bearer token."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


# --- real worker processes (pipeline crash-safety tests, webhook end-to-end tests) -------------------------


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    """SQLite test databases live in a file (not in memory) so a `live_worker` process opens the same one."""
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        database.setdefault("TEST", {})["NAME"] = str(settings.VAR_DIR / "test.sqlite3")


def _session_pids(session_id: int) -> list[int]:
    """Every process of a session (Linux /proc): a worker and its pool processes (in other process groups)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = Path(f"/proc/{entry}/stat").read_text()
            if (
                int(stat.rsplit(")", 1)[1].split()[3]) == session_id
            ):  # fields after "(comm)": state ppid pgrp session
                pids.append(int(entry))
    return pids


class LiveWorker:
    """A `celery -A crush worker` in a session of its own; `kill()` SIGKILLs every process of it (no warm
    shutdown, nothing acked); `terminate()` sends a graceful stop's SIGTERM to the worker's process group."""

    def __init__(self, process: subprocess.Popen[bytes], log_path: Path) -> None:
        self.process = process
        self.log_path = log_path

    def kill(self) -> None:
        for pid in _session_pids(self.process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait()

    def terminate(self) -> None:
        self._signal(signal.SIGTERM)

    def stop(self) -> None:
        self._signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        self.kill()  # pool processes left behind, if any

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def _signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)


def database_url() -> str:
    """The URL of the database this test run uses (the test database), for another process."""
    from urllib.parse import quote

    from django.db import connection

    config = connection.settings_dict
    if config["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{config['NAME']}"
    credentials = quote(config["USER"] or "", safe="")
    if config["PASSWORD"]:
        credentials += ":" + quote(config["PASSWORD"], safe="")
    return (
        f"postgres://{credentials}@{config['HOST'] or 'localhost'}:{config['PORT'] or 5432}/{config['NAME']}"
    )


@pytest.fixture
def live_worker(transactional_db, tmp_path):  # type: ignore[no-untyped-def]
    """Starts real Celery worker processes on this run's broker, database (committed data: transactional_db)
    and files storage: `worker = live_worker(queues="compression", concurrency=1, env={...})`; `hostname`
    (default `live<index>-<pid>@%h`, unique) gives a worker started again its predecessor's node name.

    Tasks are no longer eager inside the test; every worker started is stopped at teardown.
    """
    started: list[LiveWorker] = []
    celery_app.conf.task_always_eager = False

    def start(
        *,
        queues: str = "compression,webhooks,default",
        concurrency: int = 1,
        env: dict[str, str] | None = None,
        hostname: str | None = None,
    ) -> LiveWorker:
        index = len(started)
        environment = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "CRUSH_VAR_DIR": str(settings.VAR_DIR),
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": str(celery_app.conf.broker_url),
            "SECRET_KEY": settings.SECRET_KEY,
            "CRUSH_ALLOW_PRIVATE_URLS": "true" if settings.CRUSH_ALLOW_PRIVATE_URLS else "false",
            **(env or {}),
        }
        log_path = tmp_path / f"worker-{index}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "crush",
                    "worker",
                    "--pool=prefork",
                    f"--concurrency={concurrency}",
                    f"--queues={queues}",
                    f"--hostname={hostname or f'live{index}-{os.getpid()}@%h'}",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "--loglevel=INFO",
                ],
                cwd=settings.BASE_DIR,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: kill() reaches the pool children too
            )
        worker = LiveWorker(process, log_path)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
    celery_app.conf.task_always_eager = True
