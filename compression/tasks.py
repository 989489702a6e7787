"""Thin Celery tasks over compression.services. Time limits come from CELERY_TASK_ANNOTATIONS (settings)."""

from celery import shared_task

from compression.claimers import claimer_name
from compression.fetch import DownloadUnavailable
from compression.services.export import export_build, export_fail
from compression.services.jobs import original_image_fetch, original_image_process
from compression.services.periodic import expired_files_purge, queue_repair, stuck_jobs_sweep
from compression.storage import StorageUnavailable


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,  # a killed pool process's message is redelivered, and its job taken over
    autoretry_for=(StorageUnavailable, DownloadUnavailable),
    retry_backoff=5,
    retry_backoff_max=120,
    retry_jitter=True,
    max_retries=5,  # the service ends the job after CRUSH_JOB_MAX_ATTEMPTS runs, whichever comes first
)
def original_image_process_task(self, original_image_id: int) -> None:  # type: ignore[no-untyped-def]
    nodename = None if self.request.is_eager else self.request.hostname  # eager: inline in this process
    original_image_process(original_image_id=original_image_id, claimer=claimer_name(nodename))


@shared_task(acks_late=True, reject_on_worker_lost=True)
def original_image_fetch_task(original_image_id: int) -> None:
    original_image_fetch(original_image_id=original_image_id)


@shared_task(acks_late=True)
def stuck_jobs_sweep_task() -> int:
    queue_repair()
    return stuck_jobs_sweep()


@shared_task(acks_late=True)
def expired_files_purge_task() -> int:
    return expired_files_purge()


EXPORT_MAX_RETRIES = 5
EXPORT_RETRY_BACKOFF_MAX_SECONDS = 120


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=EXPORT_MAX_RETRIES)
def export_build_task(self, export_id: int) -> None:  # type: ignore[no-untyped-def]
    """Retries while the storage is unavailable (5, 10, 20… s), then ends the export `failed`."""
    try:
        export_build(export_id=export_id)
    except StorageUnavailable as exc:
        if self.request.retries >= EXPORT_MAX_RETRIES:
            export_fail(export_id=export_id, message=str(exc.message), code=exc.code)
            return
        raise self.retry(
            exc=exc, countdown=min(5 * 2**self.request.retries, EXPORT_RETRY_BACKOFF_MAX_SECONDS)
        ) from exc
