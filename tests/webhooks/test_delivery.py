import datetime
import json

import pytest
from django.utils import timezone
from pytest_httpserver import HTTPServer
from standardwebhooks import Webhook
from werkzeug import Request, Response

from tests.factories import AccountFactory
from webhooks import services
from webhooks.models import CallbackUrl, DeliveryStatus


def recording(responses: list[Response]):  # type: ignore[no-untyped-def]
    """A handler answering `responses` in turn (the last one repeats) and keeping every request."""
    received: list[Request] = []

    def handler(request: Request) -> Response:
        received.append(request)
        return responses[min(len(received), len(responses)) - 1]

    handler.received = received  # type: ignore[attr-defined]
    return handler


def test_delivery_happy_path_posts_signed_documented_body(
    account, callback_url_for, emit, receiver: HTTPServer
):
    # given
    callback_url = callback_url_for(account, receiver.url_for("/hooks"))
    handler = recording([Response("ok", status=200)])
    receiver.expect_request("/hooks", method="POST").respond_with_handler(handler)

    # when
    event = emit(account)

    # then
    [request] = handler.received
    body = request.get_data()
    Webhook(callback_url.secret).verify(body, dict(request.headers))
    assert request.headers["webhook-id"] == event.public_id
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"] == "Crush-Webhooks/1.0"
    data = json.loads(body)
    assert data["id"] == event.public_id and data["id"].startswith("evt_")
    assert data["event"] == "optimized"
    assert data["shop_identifier"] == account.login
    assert list(data) == [
        "id",
        "event",
        "created_at",
        "shop_identifier",
        "quota_usage",
        "image_id",
        "original_image",
        "optimized_images",
    ]
    assert data["created_at"].endswith("Z")
    assert body.decode() == event.body
    delivery = event.deliveries.get()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.attempt_log.get().status_code == 200


def test_delivery_goes_to_every_active_url_of_the_account(account, callback_url_for, emit, receiver):
    # given
    first = callback_url_for(account, receiver.url_for("/a"))
    second = callback_url_for(account, receiver.url_for("/b"))
    disabled = callback_url_for(account, receiver.url_for("/c"))
    CallbackUrl.objects.filter(pk=disabled.pk).update(is_active=False)
    receiver.expect_request("/a", method="POST").respond_with_data("ok")
    receiver.expect_request("/b", method="POST").respond_with_data("ok")

    # when
    event = emit(account)

    # then
    assert sorted(entry[0].path for entry in receiver.log) == ["/a", "/b"]
    assert {d.callback_url_id for d in event.deliveries.all()} == {first.id, second.id}
    for request, _ in receiver.log:
        secret = first.secret if request.path == "/a" else second.secret
        Webhook(secret).verify(request.get_data(), dict(request.headers))


def test_emit_without_callback_urls_writes_nothing(account, emit):
    # given: an account with no callback URL

    # when
    event = emit(account)

    # then
    assert event is None


def test_emit_sends_sub_account_events_to_its_own_urls_only(account, callback_url_for, emit, receiver):
    # given
    sub_account = AccountFactory.create(parent=account)
    callback_url_for(account, receiver.url_for("/parent"))
    sub_url = callback_url_for(sub_account, receiver.url_for("/sub"))
    receiver.expect_request("/sub", method="POST").respond_with_data("ok")

    # when
    event = emit(sub_account)

    # then
    assert [d.callback_url_id for d in event.deliveries.all()] == [sub_url.id]
    assert [entry[0].path for entry in receiver.log] == ["/sub"]


def test_emit_never_reaches_another_accounts_urls(account, callback_url_for, emit, receiver):
    # given
    other = AccountFactory.create()
    callback_url_for(other, receiver.url_for("/other"))

    # when
    event = emit(account)

    # then
    assert event is None
    assert receiver.log == []


def test_delivery_error_event_carries_the_event_name(account, callback_url_for, emit, receiver):
    # given
    callback_url_for(account, receiver.url_for("/hooks"))
    receiver.expect_request("/hooks").respond_with_data("ok")

    # when
    emit(account, event="error")

    # then
    [(request, _)] = receiver.log
    assert json.loads(request.get_data())["event"] == "error"


def test_delivery_500_three_times_then_200_is_delivered_on_the_fourth_attempt(
    account, callback_url_for, emit, receiver, settings
):
    # given
    settings.CRUSH_WEBHOOK_RETRY_SCALE = 0  # every wait is zero: eager Celery runs the retries inline
    callback_url = callback_url_for(account, receiver.url_for("/hooks"))
    handler = recording([Response("boom", status=500)] * 3 + [Response("ok", status=200)])
    receiver.expect_request("/hooks", method="POST").respond_with_handler(handler)

    # when
    event = emit(account)

    # then
    delivery = event.deliveries.get()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.attempts == 4
    attempts = list(delivery.attempt_log.order_by("id"))
    assert [attempt.status_code for attempt in attempts] == [500, 500, 500, 200]
    assert attempts[0].response_excerpt == "boom"
    assert len(handler.received) == 4
    assert {request.headers["webhook-id"] for request in handler.received} == {event.public_id}
    for request, attempt in zip(handler.received, attempts, strict=True):
        # the timestamp is taken at each attempt, and the signature is made for it
        assert int(request.headers["webhook-timestamp"]) == int(attempt.attempted_at.timestamp())
        Webhook(callback_url.secret).verify(request.get_data(), dict(request.headers))


def test_delivery_fails_for_good_once_the_schedule_is_exhausted(
    account, callback_url_for, emit, receiver, settings
):
    # given
    settings.CRUSH_WEBHOOK_RETRY_SCHEDULE_SECONDS = [1, 1]
    settings.CRUSH_WEBHOOK_RETRY_SCALE = 0
    callback_url = callback_url_for(account, receiver.url_for("/hooks"))
    receiver.expect_request("/hooks").respond_with_data("no", status=502)

    # when
    event = emit(account)

    # then
    delivery = event.deliveries.get()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == 3
    assert delivery.last_status_code == 502
    assert delivery.next_attempt_at is None
    callback_url.refresh_from_db()
    assert callback_url.is_active  # a failed delivery alone does not disable the URL
    assert callback_url.failing_since is not None


def test_delivery_410_disables_the_url_and_it_gets_nothing_more(account, callback_url_for, emit, receiver):
    # given
    callback_url = callback_url_for(account, receiver.url_for("/hooks"))
    receiver.expect_request("/hooks").respond_with_data("gone", status=410)

    # when
    first = emit(account)
    second = emit(account, image_id=6)

    # then
    callback_url.refresh_from_db()
    assert not callback_url.is_active
    assert "410" in callback_url.disabled_reason
    assert first.deliveries.get().status == DeliveryStatus.FAILED
    assert second is None
    assert len(receiver.log) == 1


def test_delivery_410_fails_the_urls_other_pending_deliveries(account, callback_url_for, emit, receiver):
    # given
    callback_url_for(account, receiver.url_for("/hooks"))
    receiver.expect_request("/hooks").respond_with_data("busy", status=500)
    waiting = emit(account).deliveries.get()
    receiver.clear()
    receiver.expect_request("/hooks").respond_with_data("gone", status=410)

    # when
    emit(account, image_id=6)

    # then
    waiting.refresh_from_db()
    assert waiting.status == DeliveryStatus.FAILED
    assert waiting.last_error == "callback URL disabled"


@pytest.mark.parametrize("status_code", [429, 503])
def test_delivery_honours_retry_after(account, callback_url_for, emit, receiver, status_code):
    # given
    callback_url_for(account, receiver.url_for("/hooks"))
    receiver.expect_request("/hooks").respond_with_data(
        "later", status=status_code, headers={"Retry-After": "120"}
    )

    # when
    event = emit(account)

    # then
    delivery = event.deliveries.get()
    attempt = delivery.attempt_log.get()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.attempts == 1  # the early message found the delivery not yet due
    assert delivery.next_attempt_at - attempt.attempted_at >= datetime.timedelta(seconds=120)


def test_delivery_retry_after_is_scaled_like_the_schedule(
    account, callback_url_for, emit, receiver, settings
):
    # given
    settings.CRUSH_WEBHOOK_RETRY_SCALE = 0.5
    callback_url_for(account, receiver.url_for("/hooks"))
    receiver.expect_request("/hooks").respond_with_data("later", status=429, headers={"Retry-After": "120"})

    # when
    event = emit(account)

    # then
    delivery = event.deliveries.get()
    waited = delivery.next_attempt_at - delivery.attempt_log.get().attempted_at
    assert datetime.timedelta(seconds=60) <= waited < datetime.timedelta(seconds=120)


def test_delivery_timeout_is_recorded_and_retried(account, callback_url_for, emit, raw_receiver, settings):
    # given
    settings.CRUSH_WEBHOOK_TIMEOUT_SECONDS = 0.5
    server = raw_receiver("hang")
    callback_url_for(account, server.url)

    # when
    event = emit(account)

    # then
    delivery = event.deliveries.get()
    attempt = delivery.attempt_log.get()
    assert attempt.status_code is None
    assert "in time" in attempt.error
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.next_attempt_at > attempt.attempted_at


def test_delivery_closed_connection_is_recorded_and_retried(account, callback_url_for, emit, raw_receiver):
    # given
    server = raw_receiver("close")
    callback_url_for(account, server.url)

    # when
    event = emit(account)

    # then
    delivery = event.deliveries.get()
    attempt = delivery.attempt_log.get()
    assert server.connections == 1
    assert attempt.status_code is None
    assert attempt.error
    assert delivery.status == DeliveryStatus.PENDING


def test_delivery_redirect_is_not_followed_and_counts_as_failure(account, callback_url_for, emit, receiver):
    # given
    callback_url_for(account, receiver.url_for("/hooks"))
    receiver.expect_request("/hooks").respond_with_data(
        "", status=302, headers={"Location": receiver.url_for("/elsewhere")}
    )

    # when
    event = emit(account)

    # then
    assert [entry[0].path for entry in receiver.log] == ["/hooks"]
    delivery = event.deliveries.get()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.last_status_code == 302
    assert delivery.last_error == "HTTP 302"


def test_delivery_refuses_a_private_address_at_send_time(account, callback_url_for, emit, receiver, settings):
    # given: the URL was accepted while loopback was allowed, then the guard is switched on
    callback_url_for(account, receiver.url_for("/hooks"))
    settings.CRUSH_ALLOW_PRIVATE_URLS = False

    # when
    event = emit(account)

    # then
    assert receiver.log == []
    attempt = event.deliveries.get().attempt_log.get()
    assert "loopback" in attempt.error


def test_delivery_url_failing_for_five_days_is_disabled(account, callback_url_for, emit, receiver):
    # given
    callback_url = callback_url_for(account, receiver.url_for("/hooks"))
    CallbackUrl.objects.filter(pk=callback_url.pk).update(
        failing_since=timezone.now() - datetime.timedelta(days=5, minutes=1)
    )
    receiver.expect_request("/hooks").respond_with_data("down", status=500)

    # when
    event = emit(account)

    # then
    callback_url.refresh_from_db()
    assert not callback_url.is_active
    assert "5 days" in callback_url.disabled_reason
    assert event.deliveries.get().status == DeliveryStatus.FAILED


def test_delivery_success_clears_the_failing_streak(account, callback_url_for, emit, receiver):
    # given
    callback_url = callback_url_for(account, receiver.url_for("/hooks"))
    CallbackUrl.objects.filter(pk=callback_url.pk).update(
        failing_since=timezone.now() - datetime.timedelta(days=4)
    )
    receiver.expect_request("/hooks").respond_with_data("ok")

    # when
    emit(account)

    # then
    callback_url.refresh_from_db()
    assert callback_url.failing_since is None
    assert callback_url.is_active


def test_delivery_lost_message_is_recovered_by_the_sweeper(
    account, callback_url_for, receiver, settings, django_capture_on_commit_callbacks
):
    # given: the event is written but its broker message is lost
    settings.CRUSH_WEBHOOK_REQUEUE_AFTER_SECONDS = 0
    callback_url_for(account, receiver.url_for("/hooks"))
    receiver.expect_request("/hooks").respond_with_data("ok")
    with django_capture_on_commit_callbacks(execute=False):
        event = services.original_image_event_emit(
            account=account, event="optimized", original_image_id=5, payload={"image_id": 5}
        )
    assert receiver.log == []

    # when
    with django_capture_on_commit_callbacks(execute=True):
        requeued = services.deliveries_requeue_lost()

    # then
    assert requeued == 1
    assert len(receiver.log) == 1
    assert event.deliveries.get().status == DeliveryStatus.DELIVERED


def test_delivery_killed_mid_post_is_retried_after_its_lease(
    account, callback_url_for, emit, receiver, settings, django_capture_on_commit_callbacks
):
    # given: attempt 1 was claimed by a worker that died before recording anything
    settings.CRUSH_WEBHOOK_REQUEUE_AFTER_SECONDS = 0
    callback_url_for(account, receiver.url_for("/hooks"))
    with django_capture_on_commit_callbacks(execute=False):
        event = services.original_image_event_emit(
            account=account, event="optimized", original_image_id=5, payload={"image_id": 5}
        )
    lease_over = timezone.now() - datetime.timedelta(seconds=1)
    event.deliveries.update(attempts=1, next_attempt_at=lease_over, queued_for=lease_over)
    receiver.expect_request("/hooks").respond_with_data("ok")

    # when
    with django_capture_on_commit_callbacks(execute=True):
        services.deliveries_requeue_lost()

    # then
    delivery = event.deliveries.get()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.attempts == 2
    assert receiver.log[0][0].headers["webhook-id"] == event.public_id


def test_delivery_sweeper_leaves_deliveries_whose_message_is_still_queued(
    account, callback_url_for, receiver, django_capture_on_commit_callbacks
):
    # given: a fresh event whose message is queued but not yet run (default re-enqueue delay)
    callback_url_for(account, receiver.url_for("/hooks"))
    with django_capture_on_commit_callbacks(execute=False):
        services.original_image_event_emit(
            account=account, event="optimized", original_image_id=5, payload={"image_id": 5}
        )

    # when
    requeued = services.deliveries_requeue_lost()

    # then
    assert requeued == 0


def test_delivery_duplicate_message_sends_once(
    account, callback_url_for, receiver, django_capture_on_commit_callbacks
):
    # given
    callback_url_for(account, receiver.url_for("/hooks"))
    receiver.expect_request("/hooks").respond_with_data("ok")
    with django_capture_on_commit_callbacks(execute=False):
        event = services.original_image_event_emit(
            account=account, event="optimized", original_image_id=5, payload={"image_id": 5}
        )
    delivery = event.deliveries.get()

    # when: the broker hands the same message out twice
    services.delivery_attempt(delivery_id=delivery.id, attempts_before=0)
    services.delivery_attempt(delivery_id=delivery.id, attempts_before=0)

    # then
    assert len(receiver.log) == 1


def test_delivery_to_a_deleted_url_is_failed(
    account, callback_url_for, receiver, django_capture_on_commit_callbacks
):
    # given
    callback_url = callback_url_for(account, receiver.url_for("/hooks"))
    with django_capture_on_commit_callbacks(execute=False):
        event = services.original_image_event_emit(
            account=account, event="optimized", original_image_id=5, payload={"image_id": 5}
        )

    # when
    services.callback_url_delete(callback_url=callback_url)

    # then
    delivery = event.deliveries.get()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.callback_url_id is None
    services.delivery_attempt(delivery_id=delivery.id, attempts_before=0)
    assert receiver.log == []


def test_webhook_events_prune_keeps_recent_and_pending_events(
    account, callback_url_for, receiver, settings, django_capture_on_commit_callbacks
):
    # given
    callback_url_for(account, receiver.url_for("/hooks"))
    with django_capture_on_commit_callbacks(execute=False):
        old_done, old_pending, recent = (
            services.original_image_event_emit(
                account=account, event="optimized", original_image_id=image_id, payload={"image_id": image_id}
            )
            for image_id in (1, 2, 3)
        )
    long_ago = timezone.now() - datetime.timedelta(days=settings.CRUSH_RETENTION_DAYS + 1)
    old_done.deliveries.update(status=DeliveryStatus.DELIVERED, next_attempt_at=None)
    type(old_done).objects.filter(pk__in=[old_done.pk, old_pending.pk]).update(created_at=long_ago)

    # when
    services.webhook_events_prune()

    # then
    remaining = set(type(old_done).objects.values_list("pk", flat=True))
    assert remaining == {old_pending.pk, recent.pk}


def test_delivery_interrupted_past_the_schedule_is_failed_without_posting(
    account, callback_url_for, receiver, django_capture_on_commit_callbacks
):
    # given: every attempt so far was claimed by a worker that died before recording it
    callback_url_for(account, receiver.url_for("/hooks"))
    with django_capture_on_commit_callbacks(execute=False):
        event = services.original_image_event_emit(
            account=account, event="optimized", original_image_id=5, payload={"image_id": 5}
        )
    event.deliveries.update(attempts=10)

    # when
    services.delivery_attempt(delivery_id=event.deliveries.get().id, attempts_before=10)

    # then
    delivery = event.deliveries.get()
    assert delivery.status == DeliveryStatus.FAILED
    assert receiver.log == []
