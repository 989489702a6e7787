"""Platform-wide numbers for the operators' landing page: a handful of aggregate queries, no row loading.

This module sits above the apps (like crush/urls.py) and reads all three; the apps never import it.
"""

import datetime
import logging
from dataclasses import dataclass

import redis
from django.conf import settings
from django.db.models import Count, Min, Q, Sum

from accounts.models import ConsumptionDay
from accounts.selectors import AllowanceUse, accounts_near_allowance
from compression.models import OptimizedImage, OriginalImage, Status
from webhooks.models import CallbackUrl, Delivery, DeliveryStatus

logger = logging.getLogger(__name__)

# CELERY_TASK_ROUTES + CELERY_TASK_DEFAULT_QUEUE
BROKER_QUEUES = ("compression", "webhooks", "maintenance", "default")
BROKER_TIMEOUT_SECONDS = 1  # the landing page must render even when Redis is unreachable


@dataclass(frozen=True, slots=True)
class Traffic:
    """Originals accepted (bytes_before) and what compression made of them (bytes_after), from the ledger."""

    files: int
    bytes_in: int
    bytes_out: int

    @property
    def saved_bytes(self) -> int:
        return self.bytes_in - self.bytes_out

    @property
    def saved_percent(self) -> float | None:
        return 100 * self.saved_bytes / self.bytes_in if self.bytes_in else None


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

    jobs_today = dict.fromkeys(Status.values, 0)
    for row in (
        OriginalImage.objects.filter(created_at__gte=midnight)
        .values("status")
        .annotate(n=Count("id"))
        .order_by()
    ):
        jobs_today[row["status"]] = row["n"]

    fallbacks_today = OptimizedImage.objects.filter(
        original__created_at__gte=midnight, warning__isnull=False
    ).count()

    traffic = ConsumptionDay.objects.filter(day__gte=today.replace(day=1), day__lte=today).aggregate(
        month_files=Sum("files"),
        month_in=Sum("bytes_before"),
        month_out=Sum("bytes_after"),
        today_files=Sum("files", filter=Q(day=today)),
        today_in=Sum("bytes_before", filter=Q(day=today)),
        today_out=Sum("bytes_after", filter=Q(day=today)),
    )

    queue: dict[str, tuple[int, datetime.datetime | None]] = {
        status: (0, None) for status in (Status.ENQUEUED, Status.PROCESSING)
    }
    for row in (
        OriginalImage.objects.filter(status__in=list(queue))
        .values("status")
        .annotate(n=Count("id"), oldest=Min("created_at"))
        .order_by()
    ):
        queue[row["status"]] = (row["n"], row["oldest"])

    deliveries = Delivery.objects.filter(
        Q(status=DeliveryStatus.FAILED) | Q(status=DeliveryStatus.PENDING, attempts__gt=0)
    ).aggregate(
        retrying=Count("id", filter=Q(status=DeliveryStatus.PENDING)),
        failed=Count("id", filter=Q(status=DeliveryStatus.FAILED)),
    )
    near_count, near = accounts_near_allowance(month=today.replace(day=1))

    return PlatformStats(
        jobs_today=jobs_today,
        fallbacks_today=fallbacks_today,
        traffic_today=Traffic(
            files=traffic["today_files"] or 0,
            bytes_in=traffic["today_in"] or 0,
            bytes_out=traffic["today_out"] or 0,
        ),
        traffic_month=Traffic(
            files=traffic["month_files"] or 0,
            bytes_in=traffic["month_in"] or 0,
            bytes_out=traffic["month_out"] or 0,
        ),
        queue_enqueued=queue[Status.ENQUEUED][0],
        queue_processing=queue[Status.PROCESSING][0],
        oldest_waiting_at=queue[Status.ENQUEUED][1],
        broker_queues=broker_queue_lengths(),
        deliveries_retrying=deliveries["retrying"],
        deliveries_failed=deliveries["failed"],
        callback_urls_failing=CallbackUrl.objects.filter(is_active=True, failing_since__isnull=False).count(),
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
