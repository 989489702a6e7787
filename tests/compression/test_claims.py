"""A job whose run is known lost (its process on this machine is gone) runs again at once, not after its
lease; a run that cannot be checked (another machine) or is alive keeps the job. No worker process: the
claim is driven through the services with a fabricated `claimed_by`; its processes are real ones."""

from __future__ import annotations

import datetime
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from django.utils import timezone

from compression import services
from compression.models import OriginalImage, Status
from compression.services import jobs
from tests.compression.pipeline_support import jpeg, options, upload

BASE = "https://crush.test"
NODE = f"celery@{socket.gethostname()}"


def _accepted(account, django_capture_on_commit_callbacks) -> OriginalImage:  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks():
        return services.original_image_submit(
            account=account,
            options=options(compression_type="lossy"),
            base_url=BASE,
            upload=upload("a.jpg", jpeg()),
            synchronous=False,
        )


def _running(original: OriginalImage, claimed_by: str, *, attempts: int = 1, ago: float = 0) -> None:
    """The job as a run left it: `processing` within its lease (written `ago` seconds before now)."""
    OriginalImage.objects.filter(pk=original.pk).update(
        status=Status.PROCESSING,
        attempts=attempts,
        claimed_by=claimed_by,
        updated_at=timezone.now() - datetime.timedelta(seconds=ago),
    )


def _dead_pid() -> int:
    """The id of a process of this machine that has exited and been reaped."""
    process = subprocess.Popen([sys.executable, "-c", ""])
    process.wait(timeout=30)
    return process.pid


@pytest.fixture
def zombie() -> Iterator[int]:
    """A child process that has exited but is not reaped yet (as a killed pool process for a moment)."""
    process = subprocess.Popen([sys.executable, "-c", ""])
    deadline = time.monotonic() + 30
    while _state(process.pid) != "Z":
        assert time.monotonic() < deadline, "the child did not exit"
        time.sleep(0.05)
    yield process.pid
    process.wait(timeout=30)


@pytest.fixture
def sleeper() -> Iterator[int]:
    """A live process of this machine, started now."""
    process = subprocess.Popen(["sleep", "60"])
    yield process.pid
    process.kill()
    process.wait(timeout=30)


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0]


def test_a_job_whose_process_on_this_machine_died_is_taken_over_at_once(
    account, django_capture_on_commit_callbacks
) -> None:
    # given
    original = _accepted(account, django_capture_on_commit_callbacks)
    _running(original, f"{NODE}:{_dead_pid()}")

    # when: the message comes back (Celery redelivers a killed pool process's late-acked task)
    services.original_image_process(original_image_id=original.id, claimer=f"{NODE}:{os.getpid()}")

    # then: the interrupted run counted as an attempt
    original.refresh_from_db()
    assert (original.status, original.attempts, original.claimed_by) == (Status.COMPLETED, 2, "")


def test_a_zombie_claimer_is_gone(account, django_capture_on_commit_callbacks, zombie) -> None:
    original = _accepted(account, django_capture_on_commit_callbacks)
    _running(original, f"{NODE}:{zombie}")

    services.original_image_process(original_image_id=original.id)

    original.refresh_from_db()
    assert (original.status, original.attempts) == (Status.COMPLETED, 2)


def test_a_pid_reused_by_a_newer_process_is_a_gone_claimer(
    account, django_capture_on_commit_callbacks, sleeper
) -> None:
    # given: the row was written 5 s before the process now holding that id started
    original = _accepted(account, django_capture_on_commit_callbacks)
    _running(original, f"{NODE}:{sleeper}", ago=5)

    services.original_image_process(original_image_id=original.id)

    original.refresh_from_db()
    assert (original.status, original.attempts) == (Status.COMPLETED, 2)


@pytest.mark.parametrize(
    "claimed_by",
    [
        pytest.param(f"{NODE}:{os.getpid()}", id="alive on this machine"),
        pytest.param("celery@another-machine.example:{dead}", id="on another machine"),
        pytest.param("worker@not-a-host-name:{dead}", id="node name without this host name"),
        pytest.param("", id="claimer unknown"),
    ],
)
def test_a_job_whose_claimer_is_alive_or_cannot_be_checked_keeps_its_lease(
    account, django_capture_on_commit_callbacks, claimed_by
) -> None:
    original = _accepted(account, django_capture_on_commit_callbacks)
    claimed_by = claimed_by.format(dead=_dead_pid())
    _running(original, claimed_by)

    services.original_image_process(original_image_id=original.id)

    original.refresh_from_db()
    assert (original.status, original.attempts, original.claimed_by) == (Status.PROCESSING, 1, claimed_by)


def test_a_job_that_keeps_killing_its_process_fails_after_its_attempts(
    account, settings, django_capture_on_commit_callbacks
) -> None:
    original = _accepted(account, django_capture_on_commit_callbacks)
    _running(original, f"{NODE}:{_dead_pid()}", attempts=settings.CRUSH_JOB_MAX_ATTEMPTS)

    services.original_image_process(original_image_id=original.id)

    original.refresh_from_db()
    assert (original.status, original.error_code) == (Status.FAILED, services.INTERRUPTED_CODE)
    assert "interrupted 3 times" in (original.error_msg or "")
    assert original.claimed_by == ""


def test_runs_record_their_process_and_forget_it_when_the_job_ends(
    account, django_capture_on_commit_callbacks, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given
    original = _accepted(account, django_capture_on_commit_callbacks)
    seen: list[str] = []
    complete = jobs.original_complete

    def spy(*, original_image_id: int) -> None:
        seen.append(OriginalImage.objects.get(pk=original_image_id).claimed_by)
        complete(original_image_id=original_image_id)

    monkeypatch.setattr(jobs, "original_complete", spy)

    # when
    services.original_image_process(original_image_id=original.id, claimer="celery@h:123")

    # then
    original.refresh_from_db()
    assert seen == ["celery@h:123"]
    assert (original.status, original.claimed_by) == (Status.COMPLETED, "")


def test_a_starting_worker_hands_back_the_jobs_its_killed_processes_held(
    account, settings, django_capture_on_commit_callbacks, sleeper
) -> None:
    # given: jobs of this worker's node name (dead or alive processes) and of another worker
    lost, alive, other, exhausted = (_accepted(account, django_capture_on_commit_callbacks) for _ in range(4))
    _running(lost, f"{NODE}:{_dead_pid()}")
    _running(alive, f"{NODE}:{sleeper}")
    _running(other, f"celery2@{socket.gethostname()}:{_dead_pid()}")
    _running(exhausted, f"{NODE}:{_dead_pid()}", attempts=settings.CRUSH_JOB_MAX_ATTEMPTS)

    # when
    with django_capture_on_commit_callbacks(execute=False) as enqueued:
        touched = services.lost_runs_hand_back(nodename=NODE)

    # then: the lost one is enqueued again with a new message, its run counted; the exhausted one failed
    assert touched == 2
    assert len(enqueued) == 1
    rows = {row.id: row for row in OriginalImage.objects.all()}
    handed_back = rows[lost.id]
    assert (handed_back.status, handed_back.attempts, handed_back.claimed_by) == (Status.ENQUEUED, 1, "")
    assert rows[alive.id].status == rows[other.id].status == Status.PROCESSING
    assert rows[exhausted.id].status == Status.FAILED
