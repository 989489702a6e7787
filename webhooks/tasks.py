"""Thin Celery tasks of the webhooks queue: ids in, one service call. The services enqueue these by name
(crush.broker), never importing this module, which imports them."""

from celery import shared_task

from webhooks.services import delivery, outbox

# The POST itself is bounded by CRUSH_WEBHOOK_TIMEOUT_SECONDS (netguard's deadline); this only catches a stuck
# database. A killed attempt is re-enqueued by the sweeper once its lease has passed.
DELIVERY_TIME_LIMIT_SECONDS = 120


@shared_task(acks_late=True, ignore_result=True, time_limit=DELIVERY_TIME_LIMIT_SECONDS)
def delivery_attempt_task(delivery_id: int, attempts_before: int) -> None:
    delivery.delivery_attempt(delivery_id=delivery_id, attempts_before=attempts_before)


@shared_task(ignore_result=True)
def deliveries_requeue_lost_task() -> None:
    delivery.deliveries_requeue_lost()


@shared_task(ignore_result=True)
def webhook_events_prune_task() -> None:
    outbox.webhook_events_prune()
