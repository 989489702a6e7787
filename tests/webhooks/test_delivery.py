import json

from pytest_httpserver import HTTPServer
from standardwebhooks import Webhook
from werkzeug import Request, Response

from tests.factories import AccountFactory
from webhooks.models import DeliveryStatus


def test_delivery_happy_path_posts_signed_documented_body(account, callback_url_for, emit, receiver: HTTPServer):
    # given
    callback_url = callback_url_for(account, receiver.url_for("/hooks"))
    received: list[Request] = []

    def handler(request: Request) -> Response:
        received.append(request)
        return Response("ok", status=200)

    receiver.expect_request("/hooks", method="POST").respond_with_handler(handler)

    # when
    event = emit(account)

    # then
    assert len(received) == 1
    request = received[0]
    body = request.get_data()
    Webhook(callback_url.secret).verify(body, dict(request.headers))
    assert request.headers["webhook-id"] == event.public_id
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"] == "Crush-Webhooks/1.0"
    data = json.loads(body)
    assert data["id"] == event.public_id and data["id"].startswith("evt_")
    assert data["event"] == "optimized"
    assert data["shop_identifier"] == account.login
    assert set(data) == {
        "id", "event", "created_at", "shop_identifier", "quota_usage", "image_id", "original_image",
        "optimized_images",
    }
    assert body.decode() == event.body
    delivery = event.deliveries.get()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.attempt_log.get().status_code == 200


def test_emit_without_callback_urls_writes_nothing(account, emit):
    # given: an account with no callback URL

    # when
    event = emit(account)

    # then
    assert event is None


def test_emit_sends_sub_account_events_to_its_own_urls_only(account, callback_url_for, emit, receiver):
    # given
    sub_account = AccountFactory(parent=account)
    callback_url_for(account, receiver.url_for("/parent"))
    sub_url = callback_url_for(sub_account, receiver.url_for("/sub"))
    receiver.expect_request("/sub", method="POST").respond_with_data("ok")

    # when
    event = emit(sub_account)

    # then
    assert [d.callback_url_id for d in event.deliveries.all()] == [sub_url.id]
    assert [entry[0].path for entry in receiver.log] == ["/sub"]
