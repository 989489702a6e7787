"""Submit, process, retry and delete originals: the only place that joins storage, DB rows and the engine.

One module per concern; the app's write API is re-exported here:
- `options`: what a submit may ask for, and the rules of its resize styles (number, names, geometry);
- `submit`: accept (async or sync) — validate, sniff, reserve quota, create the rows, enqueue;
- `jobs`: one processing run (claim, compress every output left) and the hand-backs of stopping workers;
- `lifecycle`: a job's row locked, published to the queue, and ended (ledger or quota, webhook event);
- `files`: stored files written under deterministic keys, deleted with their rows or alone, expired;
- `export`: a zip of an account's optimized or original files (`/v1/export`), built by a worker;
- `operator`: the retry of an ended job (admin);
- `periodic`: the sweeper, the queue repair, the purge of expired files.

Job life cycle (DESIGN.md "Reliability rules"):
- accept: validate, sniff, reserve quota, create the rows and store the upload in one transaction; the task is
  enqueued on commit (async) or the job runs inline (sync). With the broker down the job is accepted all the
  same and marked `unpublished`;
- claim: a run locks the row, counts an attempt, marks it `processing` and records its process in
  `claimed_by`; the row's `updated_at` is the lease. A run that finds the job ended, or `processing` within
  its lease, does nothing — unless the claimer is known to be gone (its process on this machine died:
  compression/claimers.py), as when Celery redelivers the late-acked message of a killed pool process: then
  it takes the job over at once;
- styles: each optimized image is written to a deterministic key and committed on its own, so a re-run skips
  completed styles and overwrites a half-written file instead of adding one;
- end: in one transaction the original becomes `completed` (consumption recorded) or `failed` (quota
  released) and, for async jobs, the webhook event is emitted;
- hand back: a worker stopping gives back the jobs it cannot finish; a worker starting gives back those its
  killed processes held (same node name) — both at once, not after the lease;
- sweep: a job stuck past its lease is enqueued again; a job whose attempts are used up ends `failed`. The
  lease is for the losses nobody knows of (a worker on another machine gone for good, a lost broker message);
- repair: when a worker (re)connects to the broker, and with every sweep, unpublished jobs are published, and
  every enqueued job when the broker came back empty (crush/broker.py).
"""

from compression.services.export import export_build, export_fail, export_start
from compression.services.files import (
    original_image_delete,
    original_images_delete,
    original_images_delete_all,
    stored_files_delete,
)
from compression.services.jobs import lost_runs_hand_back, original_image_hand_back, original_image_process
from compression.services.lifecycle import INTERNAL_ERROR_CODE, INTERNAL_ERROR_MESSAGE, INTERRUPTED_CODE
from compression.services.operator import original_image_retry
from compression.services.options import StyleRequest, SubmitOptions
from compression.services.periodic import expired_files_purge, queue_repair, stuck_jobs_sweep
from compression.services.submit import ProcessingFailed, original_image_submit

__all__ = [
    "INTERNAL_ERROR_CODE",
    "INTERNAL_ERROR_MESSAGE",
    "INTERRUPTED_CODE",
    "ProcessingFailed",
    "StyleRequest",
    "SubmitOptions",
    "expired_files_purge",
    "export_build",
    "export_fail",
    "export_start",
    "lost_runs_hand_back",
    "original_image_delete",
    "original_image_hand_back",
    "original_image_process",
    "original_image_retry",
    "original_image_submit",
    "original_images_delete",
    "original_images_delete_all",
    "queue_repair",
    "stored_files_delete",
    "stuck_jobs_sweep",
]
