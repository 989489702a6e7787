import logging
import os
import threading
import time

from celery import Celery, bootsteps
from celery.signals import (
    after_setup_logger,
    before_task_publish,
    task_prerun,
    worker_init,
    worker_process_init,
    worker_ready,
)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crush.settings")

app = Celery("crush")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


class VisibilityTimeoutCheck(bootsteps.Step):
    """Refuses to start a worker whose broker would redeliver a job that is still within its time limit.

    With Redis, an unacknowledged (acks_late) message goes to another worker once the visibility timeout
    passes, so the timeout must be longer than the hard job time limit.
    """

    def __init__(self, worker, **kwargs):  # type: ignore[no-untyped-def]
        from django.conf import settings
        from django.core.exceptions import ImproperlyConfigured

        super().__init__(worker, **kwargs)
        if not str(worker.app.conf.broker_url or "").startswith(("redis", "rediss")):
            return
        options = worker.app.conf.broker_transport_options or {}
        visibility = options.get("visibility_timeout", 3600)
        limit = settings.CRUSH_JOB_TIME_LIMIT_SECONDS
        if visibility <= limit:
            raise ImproperlyConfigured(
                f"The broker's visibility timeout ({visibility} s, CRUSH_BROKER_VISIBILITY_TIMEOUT_SECONDS) "
                f"must be longer than the job time limit ({limit} s, CRUSH_JOB_TIME_LIMIT_SECONDS)"
            )


app.steps["worker"].add(VisibilityTimeoutCheck)

logger = logging.getLogger(__name__)

COMPRESSION_TASK = "compression.tasks.original_image_process_task"
GRACE_POLL_SECONDS = 0.2
REQUEST_ID_HEADER = "crush_request_id"


class GracefulStop(bootsteps.StartStopStep):
    """A stopping worker finishes its compression jobs within CRUSH_WORKER_GRACE_SECONDS or hands them back.

    Celery's warm shutdown (SIGTERM, a first Ctrl-C) waits for running tasks without limit, and its soft
    shutdown (`worker_soft_shutdown_timeout`) applies only to a cold shutdown, always sleeps the whole timeout
    and leaves the job's row `processing` under its lease, so the job would wait for the sweeper. Here, when
    the worker starts stopping, a thread watches the compression jobs in flight: when they have all ended
    the stop goes on as usual; when the grace period is over, each job still running is handed back (its row
    `enqueued` again and a new message published: compression.services.jobs.original_image_hand_back) and its
    pool process terminated. A job is never lost nor run twice to completion: the service's claim and end are
    idempotent, whichever message (ours or the broker's redelivery) runs first.

    The step requires the pool, so it is closed before the pool is stopped (which is where the warm shutdown
    waits for the jobs).
    """

    requires = ("celery.worker.components:Pool",)
    label = "Graceful stop"

    def close(self, worker):  # type: ignore[no-untyped-def]
        from django.conf import settings

        grace = settings.CRUSH_WORKER_GRACE_SECONDS
        threading.Thread(
            target=_finish_or_hand_back, args=(worker, grace), name="crush-graceful-stop", daemon=True
        ).start()


def _compression_requests() -> list:  # type: ignore[type-arg]
    from celery.worker import state

    return [request for request in list(state.active_requests) if request.task_name == COMPRESSION_TASK]


def _finish_or_hand_back(worker, grace_seconds: float) -> None:  # type: ignore[no-untyped-def]
    from django.db import connection

    from compression.services.jobs import original_image_hand_back
    from crush.middleware import _request_id

    deadline = time.monotonic() + grace_seconds
    requests = _compression_requests()
    if requests:
        logger.warning(
            "worker stopping: %d compression job(s) get %s s to finish", len(requests), grace_seconds
        )
    while requests and time.monotonic() < deadline:
        time.sleep(GRACE_POLL_SECONDS)
        requests = _compression_requests()
    try:
        for request in requests:
            original_image_id = (request.args or [None])[0] or request.kwargs.get("original_image_id")
            _request_id.set(request.request_dict.get(REQUEST_ID_HEADER) or "-")  # the new message carries it
            handed_back = original_image_hand_back(original_image_id=original_image_id)
            logger.warning(
                "original %s: grace period over, %s",
                original_image_id,
                "handed back to the queue" if handed_back else "already ended",
            )
            # SIGKILL, not Celery's default SIGTERM: billiard's SIGTERM handler exits the pool process through
            # its finalizers, which left the pool's queue lock held and hung the worker's exit (filesystem
            # broker). The job's row is already handed back; nothing in the process needs a clean exit.
            request.cancel(worker.pool, signal="SIGKILL", emit_retry=False)
    except Exception:
        logger.exception("handing jobs back failed; the sweeper will re-enqueue them after their lease")
    finally:
        connection.close()


app.steps["worker"].add(GracefulStop)


class QueueRepairOnConnect(bootsteps.StartStopStep):
    """Each time a worker connects to the broker — at start and after every outage — it publishes what the
    broker does not hold (compression.services.queue_repair): jobs accepted while the broker was down, and
    every enqueued job if the broker came back empty. In a thread: the consumer goes on at once."""

    requires = ("celery.worker.consumer.tasks:Tasks",)
    label = "Queue repair"

    def start(self, consumer):  # type: ignore[no-untyped-def]
        threading.Thread(target=_queue_repair, name="crush-queue-repair", daemon=True).start()


def _queue_repair() -> None:
    from django.db import connection

    from compression.services.periodic import queue_repair

    try:
        queue_repair()
    except Exception:  # the broker or the database went away again: the sweeper runs it once more
        logger.warning("queue repair after connecting failed; the sweeper will run it", exc_info=True)
    finally:
        connection.close()


app.steps["consumer"].add(QueueRepairOnConnect)


@worker_init.connect
def load_the_engine_before_the_pool_forks(sender=None, **kwargs):  # type: ignore[no-untyped-def]
    """The slow start-up work of a job process (loading — the first time on a machine, compiling — the
    quality metric's kernels: seconds, minutes when compiling) is done once, in the worker's main process
    before it starts its pool (which also imported the engine with the tasks), so that each new pool process
    (a crash's replacement, a recycled one: CRUSH_WORKER_MAX_TASKS_PER_CHILD) inherits it ready, reports up
    at once and runs its first job without that delay. A process that loaded them itself before reporting
    up was killed past `worker_proc_alive_timeout` and replaced by another doing the same, in a loop.

    Only for a pool of processes (not the webhooks worker's threads). numba's threading layer is set to a
    fork-safe one (workqueue: a child of a process that ran GNU OpenMP aborts), and no libvips operation runs
    here (a child inheriting libvips' started thread pool hangs in its first operation).
    """
    if not _is_prefork(getattr(sender, "pool_cls", None)):
        return
    import numba

    from compression.engine.quality import kernels_load

    numba.config.THREADING_LAYER = "forksafe"
    started = time.monotonic()
    kernels_load()
    logger.info(
        "engine loaded for the pool in %.1f s (numba threading layer: %s)",
        time.monotonic() - started,
        numba.threading_layer(),
    )


def _is_prefork(pool_cls) -> bool:  # type: ignore[no-untyped-def]
    """Whether a worker runs a pool of processes (compression workers; not the webhooks worker's threads)."""
    from celery.concurrency import get_implementation
    from celery.concurrency.prefork import TaskPool

    pool = get_implementation(pool_cls or "prefork")
    return isinstance(pool, type) and issubclass(pool, TaskPool)


@worker_ready.connect
def hand_back_the_jobs_of_killed_processes(sender=None, **kwargs):  # type: ignore[no-untyped-def]
    """A worker starting gives back, at once, the jobs its earlier run left `processing` when it was killed
    whole (main process and pool: SIGKILL, OOM, a machine reset) and is now started again under the same node
    name (Procfile: `celery@%h`). Nobody else knows of that loss: with Redis the unacknowledged message would
    come back only after the visibility timeout (an hour), the row only after its lease. A pool process that
    dies alone needs nothing here: the worker gives its message back to the broker and the next run takes the
    job over (compression.services.jobs._claim). Main process, prefork pool only; the jobs this run already
    claimed are left alone, their processes being alive (compression/claimers.py)."""
    from django.db import connection

    from compression.services.jobs import lost_runs_hand_back

    if sender is None or not _is_prefork(getattr(getattr(sender, "controller", None), "pool_cls", None)):
        return
    try:
        handed_back = lost_runs_hand_back(nodename=sender.hostname)
        if handed_back:
            logger.warning("%d job(s) of this worker's killed processes handed back", handed_back)
    except Exception:
        logger.exception("handing back lost jobs failed; the sweeper will re-enqueue them after their lease")
    finally:
        connection.close()  # pool processes forked later must not share the main process's connection


@worker_process_init.connect
def leave_the_worker_process_group(**kwargs):  # type: ignore[no-untyped-def]
    """Pool processes get a process group of their own, so that a SIGTERM sent to the worker's group
    (honcho on Ctrl-C of `make run`, `kill -TERM -<pgid>`) reaches only the main process, which stops
    gracefully (GracefulStop) instead of the jobs dying with their processes. (systemd: KillMode=mixed.)"""
    os.setpgid(0, 0)


@after_setup_logger.connect
def log_request_ids(logger=None, **kwargs):  # type: ignore[no-untyped-def]
    """Worker and beat log lines show the request id too (Celery replaces the handlers of LOGGING)."""
    from crush.middleware import RequestIdLogFilter

    for handler in logger.handlers if logger is not None else ():
        handler.addFilter(RequestIdLogFilter())
        if handler.formatter is not None and "%(request_id)s" not in (handler.formatter._fmt or ""):
            handler.formatter._fmt = handler.formatter._style._fmt = (
                handler.formatter._fmt or "%(message)s"
            ).replace("%(message)s", "[%(request_id)s] %(message)s")


@before_task_publish.connect
def carry_the_request_id(headers=None, **kwargs):  # type: ignore[no-untyped-def]
    """The id of the API request that enqueued a task travels with it, so the worker's log lines show it."""
    from crush.middleware import _request_id

    request_id = _request_id.get()
    if headers is not None and request_id != "-":
        headers.setdefault(REQUEST_ID_HEADER, request_id)


@task_prerun.connect
def adopt_the_request_id(task=None, **kwargs):  # type: ignore[no-untyped-def]
    """In a worker, each task logs with the id its message carried ("-" when none: beat, the sweeper)."""
    from crush.middleware import _request_id

    if task is None or task.request.is_eager:
        return  # run inline by the process that enqueued it: its own request id stays
    _request_id.set(getattr(task.request, REQUEST_ID_HEADER, None) or "-")
