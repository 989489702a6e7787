"""What an operator does to an ended job (admin): run it again."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.services import quota_reserve
from compression.models import ENDED_STATUSES, OriginalImage, Status
from compression.services.lifecycle import original_image_enqueue_on_commit, original_locked


def original_image_retry(*, original_image: OriginalImage) -> bool:
    """Runs a failed original (or the failed styles of a completed one) again; False when nothing to retry.

    The quota a failed original gave back is reserved again (QuotaExceeded when the month is used up).
    """
    with transaction.atomic():
        original = original_locked(original_image.pk)
        if original is None or original.status not in ENDED_STATUSES:
            return False
        failed_styles = original.optimized_images.filter(status=Status.FAILED)
        if original.status == Status.COMPLETED and not failed_styles.exists():
            return False
        if original.file_id is not None and original.quota_month is None and original.size:
            original.quota_month = quota_reserve(account=original.account, size_bytes=original.size)
        failed_styles.update(status=Status.ENQUEUED, error_msg=None, error_code="", updated_at=timezone.now())
        original.status = Status.ENQUEUED
        original.error_msg = None
        original.error_code = ""
        original.ended_at = None
        original.attempts = 0
        original.synchronous = False
        original.save(
            update_fields=[
                "status",
                "error_msg",
                "error_code",
                "ended_at",
                "attempts",
                "synchronous",
                "quota_month",
                "updated_at",
            ]
        )
        original_image_enqueue_on_commit(original.id)
    return True
