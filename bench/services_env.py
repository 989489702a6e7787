"""What the benchmarks that run Crush's processes share: their environment, the throw-away PostgreSQL
database and private redis-server they use, free ports and bounded waits."""

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

PG = "postgres://postgres@127.0.0.1:5432"


def crush_environment(*, database: str, broker_url: str, var_dir: str, **extra: str) -> dict[str, str]:
    """This process's environment without Crush/Django/AWS settings, plus the ones for a benchmark run."""
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "CRUSH_", "DJANGO_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="crush.settings",
        DATABASE_URL=f"{PG}/{database}",
        CELERY_BROKER_URL=broker_url,
        SECRET_KEY="bench-only-secret-key",
        DEBUG="false",
        CRUSH_VAR_DIR=var_dir,
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


def database_recreate(name: str, *, create: bool = True) -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            connection.execute(f'CREATE DATABASE "{name}"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


def wait_for(what: str, check: Callable[[], bool], timeout: float = 60, pause: float = 0.1) -> None:
    """Polls `check` until it holds; exits the benchmark when `timeout` seconds pass first."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"{what}: not done within {timeout:.0f} s")
        time.sleep(pause)


def redis_start(directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A private redis-server on a free loopback port, keeping nothing on disk; returns it and its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not on PATH")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=(directory / "redis.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wait_for("redis-server", lambda: port_open(port), timeout=30)
    return process, f"redis://127.0.0.1:{port}/0"


def proc_stats() -> Iterator[tuple[int, list[str]]]:
    """Every process's pid and its /proc/<pid>/stat fields after the command name: state, ppid, pgrp,
    session, … (so `fields[1]` is the parent, `fields[3]` the session, `fields[11:13]` the CPU ticks)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        yield int(entry.name), fields
