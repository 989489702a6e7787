"""Living with a broker that can be down or come back empty (Redis restarted without persistence).

Publishing never raises into a caller that has already committed its work: `publish` reports failure instead,
and the caller leaves a mark in the database for `compression.services.queue_repair` (or the webhooks'
requeue of lost deliveries) to publish again. `came_back_empty` notices a broker that lost every message it
held, so that the work it held is published again as soon as a worker reconnects rather than after a lease.
"""

import logging
from collections.abc import Callable

from django.conf import settings
from django.utils import timezone
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)

# Present in Redis as long as Redis keeps its data; a Redis without it has lost the queues too.
MARKER_KEY = "crush:broker:marker"


def publish(send: Callable[[], object], *, what: str) -> bool:
    """Runs `send` (a task's delay/apply_async); False, with a warning, when the broker is unreachable."""
    try:
        send()
    except OperationalError as exc:  # kombu raises this for every transport's connection failure
        logger.warning("broker unreachable: %s not published yet (%s)", what, exc)
        return False
    return True


def came_back_empty() -> bool:
    """True (once: the first caller sets the marker again) when the Redis broker holds no marker: it was
    restarted empty, or this is its first use. Always False on the embedded broker, whose queues are files."""
    if not str(settings.CELERY_BROKER_URL).startswith(("redis://", "rediss://")):
        return False
    from crush.celery import app

    with app.connection_for_write() as connection:
        client = connection.default_channel.client
        return bool(client.set(MARKER_KEY, timezone.now().isoformat(), nx=True))
