"""The blocking process pool (the worker's pool without an event loop: the embedded filesystem broker) keeps
running jobs after its processes are SIGKILLed, because its queue locks are released by the kernel when
their holder dies (crush/prefork.py). Real forked processes; no broker.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import billiard
import pytest

from crush.prefork import BlockingPool, ProcessDeathSafeLock, TaskPool

WAIT_SECONDS = 30  # an upper bound for a stalled pool, not a timing assertion


def _hold_until_killed(lock, held) -> None:  # type: ignore[no-untyped-def]
    lock.acquire()
    held.set()
    time.sleep(WAIT_SECONDS)


def _hold_in_a_child(lock):  # type: ignore[no-untyped-def]
    context = billiard.get_context("fork")
    held = context.Event()
    child = context.Process(target=_hold_until_killed, args=(lock, held))
    child.start()
    assert held.wait(WAIT_SECONDS)
    return child


def _kill(child) -> None:  # type: ignore[no-untyped-def]
    os.kill(child.pid, signal.SIGKILL)
    child.join(WAIT_SECONDS)
    assert child.exitcode == -signal.SIGKILL


def test_a_lock_whose_holder_is_killed_is_free_again() -> None:
    # given: another process holds the lock
    lock = ProcessDeathSafeLock()
    child = _hold_in_a_child(lock)
    assert not lock.acquire(timeout=0.2)

    # when
    _kill(child)

    # then
    assert lock.acquire(timeout=WAIT_SECONDS)
    lock.release()


def test_billiards_own_lock_stays_held_after_its_holder_is_killed() -> None:
    """Why the pool needs another lock: a semaphore has no owner for the kernel to release it for."""
    lock = billiard.get_context("fork").Lock()
    child = _hold_in_a_child(lock)

    _kill(child)

    assert not lock.acquire(timeout=0.5)


def test_the_threads_of_one_process_exclude_each_other() -> None:
    # given
    lock = ProcessDeathSafeLock()
    lock.acquire()
    attempts: list[bool] = []

    # when
    other = threading.Thread(target=lambda: attempts.append(lock.acquire(timeout=0.2)))
    other.start()
    other.join(WAIT_SECONDS)

    # then
    assert attempts == [False]
    lock.release()
    assert lock.acquire(block=False)
    lock.release()


def test_killed_pool_processes_are_replaced_and_the_pool_runs_jobs_again() -> None:
    # given: a blocking pool of two idle processes, one of them waiting for a job with the queue's read lock
    pool = BlockingPool(processes=2, threads=True)
    try:
        assert pool.apply_async(os.getpid).get(timeout=WAIT_SECONDS)
        killed = {process.pid for process in pool._pool}

        # when
        for pid in killed:
            os.kill(pid, signal.SIGKILL)

        # then: the pool replaces them (waited for: a process killed but not yet dead could still read the
        # next job off the shared pipe, and take it with it), and the replacements run jobs
        deadline = time.monotonic() + WAIT_SECONDS
        while {process.pid for process in pool._pool} & killed or len(pool._pool) != 2:
            assert time.monotonic() < deadline, "the killed processes were not replaced"
            time.sleep(0.05)
        pids = {pool.apply_async(os.getpid).get(timeout=WAIT_SECONDS) for _ in range(4)}
        assert pids and pids.isdisjoint(killed)
    finally:
        pool.close()
        joiner = threading.Thread(target=pool.join, daemon=True)
        joiner.start()
        joiner.join(WAIT_SECONDS)
    assert not joiner.is_alive()


def test_the_configured_worker_pool_is_this_one() -> None:
    from celery.concurrency import get_implementation

    from crush.celery import app

    assert get_implementation(app.conf.worker_pool) is TaskPool
    assert TaskPool.BlockingPool is BlockingPool


@pytest.fixture(autouse=True)
def _no_leftover_children():  # type: ignore[no-untyped-def]
    yield
    for child in billiard.active_children():
        child.terminate()
