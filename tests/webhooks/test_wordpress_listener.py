"""A receiver doing what the Crush.pics WordPress plugin's listener does (`/wp-json/crush/webhook`,
`inc/class-api-requests.php` `wpic_webhooks_listener` and `inc/class-image-functions.php`), behind a signature
check as docs/webhooks.md describes: it gets `optimized`, `error` and `subscription_updated` from the real
pipeline, admin-side changes and the month's reset, and every field the plugin reads is checked.

The plugin registers its listener with `PATCH /v1/shop {"callback_url"}` and learns its `shop_identifier`
from `GET /v1/shop` (`login`); both are the requests it builds (JSON, bearer token).
"""

import io
import json
from typing import Any
from urllib.parse import urlsplit

import pytest
import pyvips
from django.core.management import call_command
from pytest_httpserver import HTTPServer
from rest_framework.test import APIClient
from standardwebhooks import Webhook, WebhookVerificationError
from werkzeug import Request, Response

from accounts import services as account_services
from accounts.models import Account

LISTENER = "/wp-json/crush/webhook"


class WordPressListener:
    """The plugin's listener: the options it keeps (`wpic_plan_data`, `wpic_plan_next_charge`, `quota_end`)
    and the rows it updates per image (`crush_image_actions`), from the same fields it reads. Events failing
    the signature check are refused (400) and change nothing; repeats of an event id are ignored."""

    def __init__(self, *, secret: str, shop_identifier: str, plan_data: dict[str, Any]) -> None:
        self.hook = Webhook(secret)
        self.shop_identifier = shop_identifier
        self.options: dict[str, Any] = {"wpic_plan_data": dict(plan_data)}
        self.images: dict[int, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.refused = 0

    def __call__(self, request: Request) -> Response:
        body = request.get_data()
        try:
            event = self.hook.verify(body, dict(request.headers))
        except (WebhookVerificationError, ValueError):
            self.refused += 1
            return Response(status=400)
        if any(seen["id"] == event["id"] for seen in self.events):
            return Response(status=201)
        self.events.append(event)
        if event.get("shop_identifier") != self.shop_identifier:
            return Response(status=201)
        if event["event"] == "optimized":
            self.options["wpic_plan_data"]["quota_usage"] = event["quota_usage"]
            first = event["optimized_images"][0]
            self.images[event["image_id"]] = {
                "action": "crushed",
                "size": first["size"],
                "link": first["link"],
            }
        elif event["event"] == "error":
            self.images[event["image_id"]] = {"action": "error", "size": "", "link": ""}
        elif event["event"] == "subscription_updated":
            self.options["wpic_plan_data"] = event["plan_data"]
            self.options["wpic_plan_next_charge"] = event["next_charge_at"]
        plan_data = self.options["wpic_plan_data"]
        self.options["quota_end"] = plan_data["quota_usage"] >= plan_data["bytes"]
        return Response(status=201)  # the plugin's answer

    def last(self, kind: str) -> dict[str, Any]:
        return [event for event in self.events if event["event"] == kind][-1]


def jpeg_bytes() -> bytes:
    image = pyvips.Image.black(96, 64).new_from_image([40, 120, 200]).cast("uchar")
    return image.jpegsave_buffer(Q=95)


@pytest.fixture
def plugin_api(account: Account) -> APIClient:
    """The plugin's client: its stored API key as a bearer token, JSON in and out."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {account_services.api_token_create(account=account).raw}")
    return client


@pytest.fixture
def listener(
    plugin_api: APIClient, receiver: HTTPServer, django_capture_on_commit_callbacks
) -> WordPressListener:
    """The plugin after setup: its listener registered by PATCH /v1/shop, its shop read by GET /v1/shop."""
    with django_capture_on_commit_callbacks(execute=True):
        patched = plugin_api.patch(
            "/v1/shop",
            json.dumps({"compression_type": "balanced", "callback_url": receiver.url_for(LISTENER)}),
            content_type="application/json",
            HTTP_ACCEPT="application/json",
        )
    assert patched.status_code == 200, patched.content
    shop = plugin_api.get("/v1/shop", HTTP_ACCEPT="application/json").json()["shop"]
    wordpress = WordPressListener(
        secret=patched.json()["callback_url"]["secret"],
        shop_identifier=shop["login"],
        plan_data=shop["plan_data"],
    )
    receiver.expect_request(LISTENER, method="POST").respond_with_handler(wordpress)
    return wordpress


def submit(plugin_api: APIClient, image_url: str, capture) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """`compress_request`: the plugin's JSON body, `origin: "wp"`."""
    body = f'{{"image_url":"{image_url}", "compression_type":"balanced","origin":"wp"}}'
    with capture(execute=True):
        response = plugin_api.post(
            "/v1/original_images",
            json.dumps(json.loads(body)),
            content_type="application/json",
            HTTP_ACCEPT="application/json",
        )
    assert response.status_code == 200, response.content
    return response.json()


def test_wordpress_listener_reads_every_field_of_optimized(
    plugin_api, account, listener, receiver, django_capture_on_commit_callbacks
):
    # given
    receiver.expect_request("/wp-content/uploads/photo.jpg").respond_with_data(
        jpeg_bytes(), content_type="image/jpeg"
    )

    # when
    answer = submit(
        plugin_api, receiver.url_for("/wp-content/uploads/photo.jpg"), django_capture_on_commit_callbacks
    )

    # then
    assert listener.refused == 0
    event = listener.last("optimized")
    assert event["shop_identifier"] == account.login
    image_id = answer["original_image"]["id"]
    assert event["image_id"] == image_id
    image = plugin_api.get(f"/v1/original_images/{image_id}").json()["original_image"]
    first = image["optimized_images"][0]
    assert listener.images[image_id] == {"action": "crushed", "size": first["size"], "link": first["link"]}
    assert isinstance(event["optimized_images"][0]["size"], int) and event["optimized_images"][0]["size"] > 0
    download = plugin_api.get(urlsplit(event["optimized_images"][0]["link"]).path)
    assert download.status_code == 200
    content = b"".join(download.streaming_content) if download.streaming else download.content
    assert content[:2] == b"\xff\xd8" and len(content) == event["optimized_images"][0]["size"]
    shop = plugin_api.get("/v1/shop").json()["shop"]
    assert event["quota_usage"] == shop["plan_data"]["quota_usage"] > 0
    assert listener.options["wpic_plan_data"]["quota_usage"] == event["quota_usage"]
    assert listener.options["quota_end"] is False


def test_wordpress_listener_reads_every_field_of_error(
    plugin_api, account, listener, receiver, django_capture_on_commit_callbacks
):
    # given
    receiver.expect_request("/wp-content/uploads/gone.jpg").respond_with_data("nope", status=404)

    # when
    answer = submit(
        plugin_api, receiver.url_for("/wp-content/uploads/gone.jpg"), django_capture_on_commit_callbacks
    )

    # then
    assert listener.refused == 0
    event = listener.last("error")
    assert event["shop_identifier"] == account.login
    assert event["image_id"] == answer["original_image"]["id"]
    assert listener.images[event["image_id"]]["action"] == "error"
    assert event["original_image"]["status"] == "failed"
    assert event["original_image"]["error_msg"]


def test_wordpress_listener_reads_every_field_of_subscription_updated(
    plugin_api, account, listener, receiver, django_capture_on_commit_callbacks
):
    # given: the shop has used some of its allowance
    account_services.quota_reserve(account=account, size_bytes=5000)

    # when: an operator sets a plan the usage already fills
    with django_capture_on_commit_callbacks(execute=True):
        call_command(
            "set_plan",
            account.login,
            "--code",
            "small",
            "--name",
            "Small",
            "--price",
            "4.50",
            "--bytes",
            "5000",
            "--next-charge-at",
            "2027-03-01T00:00:00Z",
            stdout=io.StringIO(),
        )

    # then
    assert listener.refused == 0
    event = listener.last("subscription_updated")
    assert event["shop_identifier"] == account.login
    assert event["quota_usage"] == 5000
    assert event["plan_data"]["bytes"] == 5000
    assert event["plan_data"]["quota_usage"] == 5000
    assert event["next_charge_at"] == "2027-03-01T00:00:00.000Z"
    assert listener.options["wpic_plan_data"] == plugin_api.get("/v1/shop").json()["shop"]["plan_data"]
    assert listener.options["wpic_plan_next_charge"] == "2027-03-01T00:00:00.000Z"
    assert listener.options["quota_end"] is True

    # when: the month's usage is reset
    with django_capture_on_commit_callbacks(execute=True):
        account_services.quota_reset(account=account)

    # then: the shop may compress again
    assert listener.last("subscription_updated")["plan_data"]["quota_usage"] == 0
    assert listener.options["quota_end"] is False
    assert len([event for event in listener.events if event["event"] == "subscription_updated"]) == 2


def test_wordpress_listener_refuses_an_event_signed_with_another_secret(
    account, listener, receiver, django_capture_on_commit_callbacks
):
    # given: a receiver that holds another secret
    listener.hook = Webhook("whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk=")

    # when
    with django_capture_on_commit_callbacks(execute=True):
        account_services.account_update(account=account, plan_bytes=123_456)

    # then
    assert listener.refused == 1
    assert listener.events == []
