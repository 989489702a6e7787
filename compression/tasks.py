"""Thin Celery tasks over compression.services. Time limits come from CELERY_TASK_ANNOTATIONS (settings)."""

from celery import shared_task

from compression import services
from compression.fetch import DownloadUnavailable
from compression.storage import StorageUnavailable


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(StorageUnavailable, DownloadUnavailable),
    retry_backoff=5,
    retry_backoff_max=120,
    retry_jitter=True,
    max_retries=5,  # the service ends the job after CRUSH_JOB_MAX_ATTEMPTS runs, whichever comes first
)
def original_image_process_task(original_image_id: int) -> None:
    services.original_image_process(original_image_id=original_image_id)


@shared_task(acks_late=True)
def stuck_jobs_sweep_task() -> int:
    services.queue_repair()
    return services.stuck_jobs_sweep()


@shared_task(acks_late=True)
def expired_files_purge_task() -> int:
    return services.expired_files_purge()
