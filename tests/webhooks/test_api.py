import base64
import logging

import pytest
from rest_framework.test import APIClient

from accounts.services import api_token_create
from tests.factories import AccountFactory
from webhooks import services
from webhooks.models import CallbackUrl, DeliveryStatus


def client_for(account) -> APIClient:  # type: ignore[no-untyped-def]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_token_create(account=account).raw}")
    return client


def test_callback_url_create_answers_201_with_a_secret_shown_once(api, account):
    # given
    url = "http://127.0.0.1:9/hooks"

    # when
    created = api.post("/v1/callback_urls", {"url": url}, format="json")
    listed = api.get("/v1/callback_urls")

    # then
    assert created.status_code == 201
    body = created.json()["callback_url"]
    assert body["url"] == url
    assert body["secret"].startswith("whsec_")
    assert len(base64.b64decode(body["secret"].removeprefix("whsec_"))) >= 24
    assert body["created_at"].endswith("Z")
    assert CallbackUrl.objects.get(pk=body["id"]).account == account
    assert listed.status_code == 200
    assert listed.json() == {
        "callback_urls": [{"id": body["id"], "url": url, "disabled": False, "created_at": body["created_at"]}]
    }


def test_callback_url_create_accepts_form_bodies_and_a_trailing_slash(api):
    # given / when
    response = api.post("/v1/callback_urls/", {"url": "http://127.0.0.1:9/form"})

    # then
    assert response.status_code == 201


def test_callback_url_secrets_differ(api):
    # given / when
    first = api.post("/v1/callback_urls", {"url": "http://127.0.0.1:9/a"}, format="json").json()
    second = api.post("/v1/callback_urls", {"url": "http://127.0.0.1:9/b"}, format="json").json()

    # then
    assert first["callback_url"]["secret"] != second["callback_url"]["secret"]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hooks",
        "http://10.0.0.1/hooks",
        "http://169.254.169.254/latest/meta-data",
        "http://[::ffff:127.0.0.1]/hooks",
        "http://2130706433/hooks",
        "http://localhost/hooks",
    ],
)
def test_callback_url_create_refuses_private_addresses_with_the_guard_on(api, settings, url):
    # given
    settings.CRUSH_ALLOW_PRIVATE_URLS = False

    # when
    response = api.post("/v1/callback_urls", {"url": url}, format="json")

    # then
    assert response.status_code == 422
    assert list(response.json()["message"]) == ["url"]
    assert not CallbackUrl.objects.exists()


@pytest.mark.parametrize("url", ["ftp://example.com/x", "not a url", "", "javascript:alert(1)"])
def test_callback_url_create_refuses_non_http_urls(api, url):
    # given / when
    response = api.post("/v1/callback_urls", {"url": url}, format="json")

    # then
    assert response.status_code == 422
    assert "url" in response.json()["message"]


def test_callback_url_credentials_never_reach_the_logs(api, caplog):
    # given
    caplog.set_level(logging.DEBUG)

    # when
    response = api.post("/v1/callback_urls", {"url": "http://user:s3cr3tpw@127.0.0.1:9/h"}, format="json")

    # then
    assert response.status_code == 201
    assert "s3cr3tpw" not in caplog.text
    assert response.json()["callback_url"]["secret"] not in caplog.text


def test_callback_url_delete_answers_204_and_removes_it(api, account):
    # given
    callback_url = services.callback_url_create(account=account, url="http://127.0.0.1:9/h")

    # when
    response = api.delete(f"/v1/callback_urls/{callback_url.id}")

    # then
    assert response.status_code == 204
    assert not CallbackUrl.objects.filter(pk=callback_url.id).exists()


def test_callback_url_delete_of_another_account_is_404(api):
    # given
    other = services.callback_url_create(account=AccountFactory.create(), url="http://127.0.0.1:9/h")

    # when
    response = api.delete(f"/v1/callback_urls/{other.id}/", content_type="application/json")

    # then
    assert response.status_code == 404
    assert response.json()["message"] == "Not found"
    assert CallbackUrl.objects.filter(pk=other.id).exists()


def test_callback_url_list_shows_only_own_urls_and_disabled_ones_as_such(api, account):
    # given
    own = services.callback_url_create(account=account, url="http://127.0.0.1:9/own")
    services.callback_url_disable(callback_url_id=own.id, reason="test")
    services.callback_url_create(account=AccountFactory.create(), url="http://127.0.0.1:9/other")

    # when
    response = api.get("/v1/callback_urls/")

    # then
    assert [(row["id"], row["disabled"]) for row in response.json()["callback_urls"]] == [(own.id, True)]


def test_callback_urls_require_a_token():
    # given
    client = APIClient()

    # when
    response = client.get("/v1/callback_urls")

    # then
    assert response.status_code == 401


def test_webhook_events_list_pages_own_events_newest_first(api, account, callback_url_for, emit, receiver):
    # given
    callback_url_for(account, receiver.url_for("/hooks"))
    receiver.expect_request("/hooks").respond_with_data("ok")
    events = [emit(account, image_id=image_id) for image_id in (1, 2, 3)]
    other = AccountFactory.create()
    callback_url_for(other, receiver.url_for("/hooks"))
    emit(other, image_id=9)

    # when
    first_page = api.get("/v1/webhook_events", {"per_page": 2})
    second_page = api.get("/v1/webhook_events", {"per_page": 2, "page": 2})

    # then
    assert first_page.status_code == 200
    body = first_page.json()
    assert [row["id"] for row in body["webhook_events"]] == [events[2].public_id, events[1].public_id]
    assert body["pagination"] == {"current": 1, "per_page": 2, "count": 2, "total_pages": 2, "total_count": 3}
    assert [row["id"] for row in second_page.json()["webhook_events"]] == [events[0].public_id]
    row = body["webhook_events"][0]
    assert row["event"] == "optimized"
    assert row["payload"]["id"] == row["id"]
    assert row["deliveries"][0]["status"] == DeliveryStatus.DELIVERED
    assert row["deliveries"][0]["attempts"] == 1


@pytest.mark.parametrize("path", ["/v1/webhook_events", "/v1/original_images"])
def test_lists_lower_a_per_page_past_the_maximum_alike(api, path):
    # given: API.md §1, per_page ≤ 100 (default 25), the same on every /v1/ list

    # when
    response = api.get(path, {"per_page": 500})

    # then
    assert response.status_code == 200
    assert response.json()["pagination"]["per_page"] == 100


def test_webhook_event_resend_sends_the_same_event_again(
    api, account, callback_url_for, emit, receiver, django_capture_on_commit_callbacks
):
    # given
    callback_url_for(account, receiver.url_for("/hooks"))
    receiver.expect_request("/hooks").respond_with_data("ok")
    event = emit(account)

    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/v1/webhook_events/{event.public_id}/resend")

    # then
    assert response.status_code == 202
    assert len(response.json()["webhook_event"]["deliveries"]) == 2
    assert len(receiver.log) == 2
    first, second = (request for request, _ in receiver.log)
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == event.public_id
    assert first.get_data() == second.get_data()


def test_webhook_event_resend_of_another_accounts_event_is_404(
    api, callback_url_for, emit, receiver, django_capture_on_commit_callbacks
):
    # given
    other = AccountFactory.create()
    callback_url_for(other, receiver.url_for("/hooks"))
    receiver.expect_request("/hooks").respond_with_data("ok")
    event = emit(other)

    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/v1/webhook_events/{event.public_id}/resend/")

    # then
    assert response.status_code == 404
    assert len(receiver.log) == 1
    assert api.get("/v1/webhook_events").json()["webhook_events"] == []


def test_webhook_event_resend_without_active_url_is_409(api, account, callback_url_for, emit, receiver):
    # given
    callback_url = callback_url_for(account, receiver.url_for("/hooks"))
    receiver.expect_request("/hooks").respond_with_data("ok")
    event = emit(account)
    services.callback_url_disable(callback_url_id=callback_url.id, reason="test")

    # when
    response = api.post(f"/v1/webhook_events/{event.public_id}/resend")

    # then
    assert response.status_code == 409
    assert "message" in response.json()


def test_shop_lists_the_accounts_callback_urls_with_their_state(api, account):
    # given
    active = services.callback_url_create(account=account, url="http://127.0.0.1:9/a")
    disabled = services.callback_url_create(account=account, url="http://127.0.0.1:9/b")
    services.callback_url_disable(callback_url_id=disabled.id, reason="test")
    services.callback_url_create(account=AccountFactory.create(), url="http://127.0.0.1:9/other")

    # when
    response = api.get("/v1/shop")

    # then
    assert response.json()["shop"]["callback_urls"] == [
        {"id": active.id, "url": "http://127.0.0.1:9/a", "disabled": False},
        {"id": disabled.id, "url": "http://127.0.0.1:9/b", "disabled": True},
    ]
