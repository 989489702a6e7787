"""Platform-wide numbers for the operators' landing page: a handful of aggregate queries, no row loading.

This module sits above the apps (like crush/urls.py) and reads all three through their selectors; the apps
never import it.
"""

import datetime
import logging
from dataclasses import dataclass

import redis
from django.conf import settings

from accounts.selectors import AllowanceUse, Traffic, accounts_near_allowance, platform_traffic
from compression.selectors import platform_fallback_count, platform_job_counts, platform_job_queue
from webhooks.selectors import platform_delivery_health

logger = logging.getLogger(__name__)

# CELERY_TASK_ROUTES + CELERY_TASK_DEFAULT_QUEUE
BROKER_QUEUES = ("compression", "webhooks", "maintenance", "fetch", "default")
BROKER_TIMEOUT_SECONDS = 1  # the landing page must render even when Redis is unreachable


@dataclass(frozen=True, slots=True)
class PlatformStats:
    jobs_today: dict[str, int]  # every Status, zero included
    fallbacks_today: int  # optimized images of today's originals made by an engine fallback (Result.warning)
    traffic_today: Traffic
    traffic_month: Traffic
    queue_enqueued: int
    queue_processing: int
    oldest_waiting_at: datetime.datetime | None  # created_at of the oldest enqueued original
    broker_queues: dict[str, int] | None  # None: not Redis (the embedded broker) or unreachable
    deliveries_retrying: int
    deliveries_failed: int
    callback_urls_failing: int
    near_allowance_count: int
    near_allowance: list[AllowanceUse]

    @property
    def jobs_today_total(self) -> int:
        return sum(self.jobs_today.values())


def platform_stats(*, now: datetime.datetime) -> PlatformStats:
    now = now.astimezone(datetime.UTC)
    today = now.date()
    midnight = datetime.datetime.combine(today, datetime.time(), tzinfo=datetime.UTC)
    traffic_today, traffic_month = platform_traffic(today=today)
    queue = platform_job_queue()
    deliveries = platform_delivery_health()
    near_count, near = accounts_near_allowance(month=today.replace(day=1))
    return PlatformStats(
        jobs_today=platform_job_counts(since=midnight),
        fallbacks_today=platform_fallback_count(since=midnight),
        traffic_today=traffic_today,
        traffic_month=traffic_month,
        queue_enqueued=queue.enqueued,
        queue_processing=queue.processing,
        oldest_waiting_at=queue.oldest_waiting_at,
        broker_queues=broker_queue_lengths(),
        deliveries_retrying=deliveries.retrying,
        deliveries_failed=deliveries.failed,
        callback_urls_failing=deliveries.callback_urls_failing,
        near_allowance_count=near_count,
        near_allowance=near,
    )


def broker_queue_lengths() -> dict[str, int] | None:
    """Messages waiting in each Celery queue on Redis (kombu keeps a queue as a list named after it)."""
    if not settings.CELERY_BROKER_URL.startswith("redis"):
        return None
    client = redis.Redis.from_url(
        settings.CELERY_BROKER_URL,
        socket_timeout=BROKER_TIMEOUT_SECONDS,
        socket_connect_timeout=BROKER_TIMEOUT_SECONDS,
    )
    try:
        with client.pipeline(transaction=False) as pipe:
            for name in BROKER_QUEUES:
                pipe.llen(name)
            return dict(zip(BROKER_QUEUES, pipe.execute(), strict=True))
    except redis.RedisError:
        logger.warning("broker queue lengths unavailable", exc_info=True)
        return None
    finally:
        client.close()
