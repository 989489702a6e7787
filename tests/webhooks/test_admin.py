from django.db import connection
from django.test.utils import CaptureQueriesContext

from webhooks import services
from webhooks.models import CallbackUrl, WebhookEvent


def queries_for(client, url: str) -> int:  # type: ignore[no-untyped-def]
    client.get(url)  # warm the per-process caches (content types) so only the page's own queries count
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


def test_admin_pages_cost_the_same_queries_for_one_or_many_rows(
    admin_client, account, callback_url_for, emit, receiver
):
    # given
    callback_url_for(account, "http://user:pw-not-shown@" + receiver.url_for("/a").removeprefix("http://"))
    callback_url_for(account, receiver.url_for("/b"))
    receiver.expect_request("/a").respond_with_data("ok")
    receiver.expect_request("/b").respond_with_data("nope", status=500)
    first = emit(account, image_id=1)
    pages = ["/admin/webhooks/webhookevent/", "/admin/webhooks/delivery/", "/admin/webhooks/callbackurl/"]
    single = [queries_for(admin_client, page) for page in pages]
    event_page = f"/admin/webhooks/webhookevent/{first.pk}/change/"
    single_event = queries_for(admin_client, event_page)

    # when
    for image_id in range(2, 7):
        emit(account, image_id=image_id)
    services.webhook_event_resend(webhook_event=first)

    # then
    assert [queries_for(admin_client, page) for page in pages] == single
    assert queries_for(admin_client, event_page) == single_event
    page = admin_client.get(event_page).content.decode()
    assert "nope" in page  # the attempt log, answer excerpt included
    assert "pw-not-shown" not in page
    assert "whsec_" not in page
    assert "pw-not-shown" not in admin_client.get("/admin/webhooks/callbackurl/").content.decode()


def test_admin_resend_now_action_sends_the_event_again(
    admin_client, account, callback_url_for, emit, receiver, django_capture_on_commit_callbacks
):
    # given
    callback_url_for(account, receiver.url_for("/hooks"))
    receiver.expect_request("/hooks").respond_with_data("ok")
    event = emit(account)

    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/webhooks/webhookevent/", {"action": "resend_now", "_selected_action": [event.pk]}
        )

    # then
    assert response.status_code == 302
    assert event.deliveries.count() == 2
    assert [request.headers["webhook-id"] for request, _ in receiver.log] == [event.public_id] * 2


def test_admin_re_enable_action_restores_a_disabled_url(
    admin_client, account, callback_url_for, emit, receiver
):
    # given
    callback_url = callback_url_for(account, receiver.url_for("/hooks"))
    services.callback_url_disable(callback_url_id=callback_url.id, reason="The receiver answered 410 Gone")

    # when
    admin_client.post(
        "/admin/webhooks/callbackurl/", {"action": "re_enable", "_selected_action": [callback_url.pk]}
    )

    # then
    callback_url.refresh_from_db()
    assert callback_url.is_active and callback_url.disabled_at is None and callback_url.disabled_reason == ""
    receiver.expect_request("/hooks").respond_with_data("ok")
    assert isinstance(emit(account), WebhookEvent)
    assert len(receiver.log) == 1
    assert CallbackUrl.objects.get(pk=callback_url.pk).failing_since is None
