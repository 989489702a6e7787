"""What one successful delivery costs: statements and INFO lines (counts, never timings)."""

import logging

from webhooks import services
from webhooks.models import DeliveryStatus


def test_delivery_success_is_claimed_read_and_recorded_in_few_statements_with_one_info_line(
    account,
    callback_url_for,
    receiver,
    django_capture_on_commit_callbacks,
    django_assert_max_num_queries,
    caplog,
):
    # given: a pending delivery whose message has not run yet
    callback_url_for(account, receiver.url_for("/hooks"))
    receiver.expect_request("/hooks", method="POST").respond_with_data("ok")
    with django_capture_on_commit_callbacks(execute=False):
        event = services.original_image_event_emit(
            account=account, event="optimized", original_image_id=5, payload={"image_id": 5}
        )
    delivery = event.deliveries.get()
    caplog.set_level(logging.INFO)
    caplog.clear()

    # when: claim and read are one statement; the attempt row and the delivery's end at most two more
    # (PostgreSQL: one), plus the SAVEPOINT and its RELEASE the test transaction turns an atomic block into
    with django_assert_max_num_queries(5):
        services.delivery_attempt(delivery_id=delivery.id, attempts_before=0)

    # then
    assert len(receiver.log) == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.attempts == 1
    assert delivery.last_status_code == 200 and delivery.last_error == ""
    assert delivery.delivered_at is not None
    assert delivery.next_attempt_at is None and delivery.queued_for is None
    [attempt] = delivery.attempt_log.all()
    assert attempt.status_code == 200 and attempt.response_excerpt == "ok" and attempt.error == ""
    info_lines = [
        record.getMessage()
        for record in caplog.records
        if record.levelno >= logging.INFO and record.name.startswith(("webhooks", "crush"))
    ]
    assert len(info_lines) == 1 and "delivered" in info_lines[0]
