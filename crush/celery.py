import os

from celery import Celery, bootsteps
from celery.signals import worker_process_init

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


@worker_process_init.connect
def warm_up_engine(**kwargs):  # type: ignore[no-untyped-def]
    """Loads the quality metric's compiled kernels in each worker process before its first job (from
    numba's on-disk cache; the very first start on a machine compiles them)."""
    from compression.engine.quality import warm_up

    warm_up()
