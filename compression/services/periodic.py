"""Periodic jobs (beat): the sweeper, the repair of lost broker messages, the purge of expired files."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from compression.models import ENDED_STATUSES, OriginalImage, Status, StoredFile
from compression.services.files import stored_files_expire
from compression.services.lifecycle import (
    interrupted_too_often,
    job_lease,
    original_image_enqueue,
    original_image_enqueue_on_commit,
    original_locked,
)
from crush import broker

logger = logging.getLogger(__name__)

REPAIR_BATCH = 10_000  # jobs published again per queue_repair run; the next run takes the rest


def stuck_jobs_sweep() -> int:
    """Enqueues jobs stuck in `enqueued`/`processing` past their lease again (the broker may have lost them,
    or their worker died); a job whose attempts are used up ends `failed`. Returns how many were touched."""
    cutoff = timezone.now() - job_lease()
    stuck_ids = list(
        OriginalImage.objects.filter(status__in=[Status.ENQUEUED, Status.PROCESSING], updated_at__lt=cutoff)
        .order_by("id")
        .values_list("id", flat=True)[:1000]
    )
    touched = 0
    for original_id in stuck_ids:
        with transaction.atomic():
            original = original_locked(original_id)
            if original is None or original.status in ENDED_STATUSES or original.updated_at >= cutoff:
                continue
            touched += 1
            if original.status == Status.PROCESSING and interrupted_too_often(original):
                continue
            logger.warning("original %s stuck in %s: enqueued again", original.id, original.status)
            original.status = Status.ENQUEUED
            original.claimed_by = ""
            original.save(update_fields=["status", "claimed_by", "updated_at"])
            original_image_enqueue_on_commit(original.id)
    return touched


def queue_repair() -> int:
    """Publishes again what the broker does not hold: the jobs whose message could not be sent (broker down
    when they were accepted) and, when the broker came back empty, every job still `enqueued` (its message
    went with the broker's contents). A job published twice runs once (see `jobs._claim`).
    Returns how many."""
    pending = OriginalImage.objects.filter(status=Status.ENQUEUED)
    if broker.came_back_empty():
        logger.warning("the broker holds none of our messages (restarted empty?): publishing enqueued jobs")
    else:
        pending = pending.filter(unpublished=True)
    ids = list(pending.order_by("id").values_list("id", flat=True)[:REPAIR_BATCH])
    published = [original_id for original_id in ids if original_image_enqueue(original_id)]
    OriginalImage.objects.filter(id__in=published, unpublished=True).update(unpublished=False)
    if published:
        logger.info("published %d enqueued job(s) again", len(published))
    return len(published)


def expired_files_purge() -> int:
    """Deletes stored files past their expiry (CRUSH_RETENTION_DAYS after upload); their links then 404."""
    return stored_files_expire(
        files=StoredFile.objects.filter(deleted_at=None, expire_at__lte=timezone.now())
    )
