"""Living with a broker that can be down or come back empty (Redis restarted without persistence).

Publishing never raises into a caller that has already committed its work: `publish` reports failure instead,
and the caller leaves a mark in the database for `compression.services.queue_repair` (or the webhooks'
requeue of lost deliveries) to publish again. `came_back_empty` notices a broker that lost every message it
held, so that the work it held is published again as soon as a worker reconnects rather than after a lease.

Services reach their app's tasks by name (`task`), never by importing `tasks.py`: the tasks import the
services, so the arrow runs one way only (tasks → services) and there is no import cycle.
"""

import functools
import logging
import threading
from collections.abc import Callable
from typing import Any

from celery import current_app
from celery.app.task import Task
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)

# Present in Redis as long as Redis keeps its data; a Redis without it has lost the queues too.
MARKER_KEY = "crush:broker:marker"
# One autodiscovery at a time: with two threads running it at once, one looked its task up before the other
# had registered it (NotRegistered: a fresh web worker's first concurrent submits answered 500 after their
# job was committed).
_DISCOVERY = threading.Lock()


def publish(send: Callable[[], object], *, what: str) -> bool:
    """Runs `send` (a task's delay/apply_async); False, with a warning, when the broker is unreachable."""
    try:
        send()
    except OperationalError as exc:  # kombu raises this for every transport's connection failure
        logger.warning("broker unreachable: %s not published yet (%s)", what, exc)
        return False
    return True


def task(name: str) -> Task:
    """The registered Celery task `name` (e.g. "webhooks.tasks.delivery_attempt_task"). A process that has not
    imported it yet (the web process) runs Celery's task autodiscovery (crush/celery.py) first."""
    app = current_app
    if name not in app.tasks:
        with _DISCOVERY:
            if name not in app.tasks:
                app.loader.import_default_modules()
    return app.tasks[name]


def apply_async(
    task_name: str,
    args: tuple[Any, ...],
    *,
    what: str,
    unpublished: Callable[[], object] | None = None,
    **options: Any,
) -> bool:
    """Publishes the task `task_name` now; False when the broker is down: then `unpublished` runs, to leave
    the mark from which a repair publishes it again."""
    sent = publish(lambda: task(task_name).apply_async(args, **options), what=what)
    if not sent and unpublished is not None:
        unpublished()
    return sent


def apply_async_on_commit(
    task_name: str,
    args: tuple[Any, ...],
    *,
    what: str,
    unpublished: Callable[[], object] | None = None,
    **options: Any,
) -> None:
    """Celery's `Task.apply_async_on_commit` (the `delay_on_commit` of Django apps, with options such as
    `countdown`), except that a broker that is down does not raise into a caller whose work is already
    committed: `unpublished` runs instead (see `apply_async`)."""
    transaction.on_commit(
        functools.partial(apply_async, task_name, args, what=what, unpublished=unpublished, **options)
    )


def came_back_empty() -> bool:
    """True (once: the first caller sets the marker again) when the Redis broker holds no marker: it was
    restarted empty, or this is its first use. Always False on the embedded broker, whose queues are files."""
    if not str(settings.CELERY_BROKER_URL).startswith(("redis://", "rediss://")):
        return False
    with current_app.connection_for_write() as connection:
        client = connection.default_channel.client
        return bool(client.set(MARKER_KEY, timezone.now().isoformat(), nx=True))
