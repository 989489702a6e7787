"""Which process runs a job (`OriginalImage.claimed_by`), and whether that process is known to be gone.

A run records its claimer as "<node name>:<pid>": the Celery worker's node name (`celery@host`; a pool
process shares its worker's) or "inline@<host>" for a run outside a worker (an eager task, a script), and
the id of the process that runs it. When a pool process is SIGKILLed, Celery gives the late-acked message
back to the broker at once; when a whole worker is killed and started again, it finds the jobs its earlier
processes held. Either way the job's row is still `processing` within its lease, and this module says
whether its claimer is gone, so the job runs again in seconds instead of waiting for the lease
(CRUSH_JOB_LEASE_SECONDS) and the sweeper.

A claimer is known to be gone only when it ran on this machine — the node name's host part is this
machine's host name, as Celery's default node name and `%h` give — and its process no longer exists, is a
zombie, or is a newer process that reused the id (it started after the row was last written). A claimer on
another machine, or with a node name that does not end in this host name, cannot be checked from here: its
job waits for the lease as before. Two containers sharing one host name but not one process-id namespace
would mistake each other's live runs for gone ones; such a mistake costs a second run of the job (claims and
ends are idempotent: it still completes once), never a lost one.
"""

from __future__ import annotations

import datetime
import os
import socket
from pathlib import Path

INLINE_NODE = "inline"
# Boot time is known to the second (/proc/stat "btime"): a process that started up to this much after the
# row's last write is still taken for the claimer rather than a newer process that reused its id.
START_SLACK_SECONDS = 1.0


def claimer_name(nodename: str | None = None) -> str:
    """This process as a claimer: its worker's node name (None: outside a worker, "inline@<host>") and pid."""
    return f"{nodename or f'{INLINE_NODE}@{socket.gethostname()}'}:{os.getpid()}"


def claimer_gone(claimed_by: str, *, written_at: datetime.datetime) -> bool:
    """Whether the process named by `claimed_by` (a row last written at `written_at`) is known to be gone."""
    pid = _local_pid(claimed_by)
    return pid is not None and not _running_since(pid, written_at.timestamp() + START_SLACK_SECONDS)


def _local_pid(claimed_by: str) -> int | None:
    """The process id of a claimer on this machine; None when it is elsewhere or cannot be read."""
    node, _, pid = claimed_by.rpartition(":")
    host = node.rpartition("@")[2]
    if not pid.isdigit() or int(pid) <= 0 or host != socket.gethostname():
        return None
    return int(pid)


def _running_since(pid: int, latest_start: float) -> bool:
    """Whether process `pid` exists, is not a zombie and started no later than `latest_start` (epoch)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        if Path("/proc/self/stat").exists():
            return False  # Linux: no such process
        return _exists(pid)  # no /proc (macOS under `make run`): existence is all that can be told
    except OSError:
        return True  # cannot tell: assume it runs
    fields = stat.rsplit(")", 1)[1].split()  # after "(comm)": state ppid pgrp … starttime is the 20th
    if fields[0] in ("Z", "X"):
        return False
    try:
        started = _boot_time() + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return True
    return started <= latest_start


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _boot_time() -> float:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    raise OSError("no btime in /proc/stat")
