"""The worker's process pool: Celery's prefork pool, except that pool processes killed at any moment (SIGKILL,
the OOM killer, the SIGKILL that follows a hard time limit) cannot stall the others.

Without an event loop (the embedded filesystem broker is polled, so `make run`'s worker has none) Celery runs
billiard's blocking pool: the processes share one job pipe, and an idle process waits for the next job
*holding* the pipe's read lock (billiard `SimpleQueue.get_payload`: `with self._rlock: recv_bytes()`). That
lock is a semaphore, which nobody releases when its holder dies: once the process waiting for a job was
killed, every other and every new process waited for the lock forever, and the worker kept receiving tasks
that never ran (issue 13; billiard issue 104, pull request 457). With Redis, Celery's event-loop pool gives
each process a pipe of its own and no such lock.

Here the blocking pool's shared locks (the job pipe's read lock, the result pipe's write lock) are POSIX
record locks on an unlinked file, which the kernel releases when the process holding one ends, however it
ends; a thread lock on top keeps the exclusion between the threads of one process (record locks belong to a
process). Selected by `worker_pool` (settings: CELERY_WORKER_POOL), which `--pool=prefork` then stands for.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import threading
import time
import weakref

from billiard.pool import Pool
from celery.concurrency import prefork

POLL_SECONDS = 0.01  # how often a lock with a time-out is tried again

_locks: weakref.WeakSet[ProcessDeathSafeLock] = weakref.WeakSet()


class ProcessDeathSafeLock:
    """A lock between the processes forked after it was made, released by the kernel when its holder dies.

    Works with fork only (the processes share the unlinked file through the inherited descriptor), which is
    what Celery's prefork pool uses.
    """

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(prefix="crush-pool-lock-")  # closed with the lock
        self._thread_lock = threading.Lock()
        _locks.add(self)

    def acquire(self, block: bool = True, timeout: float | None = None) -> bool:
        if not self._thread_lock.acquire(block, -1 if timeout is None or not block else timeout):
            return False
        try:
            if block and timeout is None:
                fcntl.lockf(self._file, fcntl.LOCK_EX)
                return True
            deadline = time.monotonic() + (timeout if block and timeout is not None else 0)
            while True:
                try:
                    fcntl.lockf(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return True
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        self._thread_lock.release()
                        return False
                    time.sleep(POLL_SECONDS)
        except BaseException:  # interrupted (a signal handler raising): not acquired
            self._thread_lock.release()
            raise

    def release(self) -> None:
        fcntl.lockf(self._file, fcntl.LOCK_UN)
        self._thread_lock.release()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def _after_fork_in_child(self) -> None:
        # A child never holds the record lock it inherits (POSIX locks are not inherited), and the thread
        # that may have held the thread lock in the parent does not exist in the child.
        self._thread_lock = threading.Lock()


def _reset_locks_in_child() -> None:
    for lock in list(_locks):
        lock._after_fork_in_child()


os.register_at_fork(after_in_child=_reset_locks_in_child)


class BlockingPool(Pool):
    """billiard's blocking pool with process-death-safe queue locks."""

    def _setup_queues(self) -> None:
        super()._setup_queues()
        self._inqueue._rlock = ProcessDeathSafeLock()  # held by the idle process waiting for a job
        self._outqueue._wlock = ProcessDeathSafeLock()  # held by a process sending a result


class TaskPool(prefork.TaskPool):
    """Celery's prefork pool; its blocking variant (no event loop: the filesystem broker) is BlockingPool."""

    BlockingPool = BlockingPool
