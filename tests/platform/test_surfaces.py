"""JSON errors for every status on both API surfaces, request ids in responses and logs."""

import json
import logging

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts import services
from accounts.models import Account
from crush.middleware import RequestIdLogFilter

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.platform.urls")]

SECRET_DETAIL = "/srv/secret/path"


def imagerecycle_auth(account: Account) -> str:
    issued = services.api_key_create(account=account)
    return json.dumps({"key": issued.api_key.key, "secret": issued.secret})


@pytest.mark.parametrize("path", ["/v1/test-broken-plain", "/v1/test-broken-api"])
def test_crash_on_v1_is_a_json_500_without_internals(path: str) -> None:
    client = Client(raise_request_exception=False)

    response = client.get(path)

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json()["message"] == "Internal server error"
    assert SECRET_DETAIL not in response.content.decode()


@pytest.mark.parametrize("path", ["/imagerecycle/v1/test-broken-plain", "/imagerecycle/v1/test-broken-api"])
def test_crash_on_imagerecycle_is_an_errcode_500(path: str) -> None:
    client = Client(raise_request_exception=False)

    response = client.get(path)

    assert response.status_code == 500
    assert response.json()["errCode"] == 500
    assert isinstance(response.json()["errMessage"], str)
    assert SECRET_DETAIL not in response.content.decode()


def test_crash_is_logged_with_the_request_id(caplog: pytest.LogCaptureFixture) -> None:
    caplog.handler.addFilter(RequestIdLogFilter())
    client = Client(raise_request_exception=False)

    with caplog.at_level(logging.ERROR):
        response = client.get("/v1/test-broken-plain", HTTP_X_REQUEST_ID="trace-0123456789")

    assert response["X-Request-ID"] == "trace-0123456789"
    logged = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert logged
    assert all(record.request_id == "trace-0123456789" for record in logged)  # type: ignore[attr-defined]
    assert any(record.exc_info for record in logged)


def test_method_not_allowed_on_v1_is_json(api: APIClient) -> None:
    response = api.put("/v1/shop", {}, format="json")

    assert response.status_code == 405
    assert isinstance(response.json()["message"], str)
    assert "GET" in response["Allow"]


def test_method_not_allowed_on_imagerecycle_is_errcode(account: Account) -> None:
    response = APIClient().post("/imagerecycle/v1/test-get-only", {"auth": imagerecycle_auth(account)})

    assert response.status_code == 405
    assert response.json()["errCode"] == 405


def test_wrong_imagerecycle_credentials_are_an_errcode_401(account: Account) -> None:
    wrong = json.dumps({"key": "nope", "secret": "nope"})

    response = APIClient().get("/imagerecycle/v1/test-get-only", {"auth": wrong})

    assert response.status_code == 401
    assert response.json()["errCode"] == 401


@pytest.mark.parametrize(
    ("path", "key"),
    [("/v1/no/such/route", "message"), ("/v1", "message"), ("/imagerecycle/v1/no/such/route", "errCode")],
)
def test_unknown_routes_are_json_404_with_any_method(path: str, key: str) -> None:
    for method in ("get", "post", "delete"):
        response = getattr(Client(), method)(path)

        assert response.status_code == 404
        assert key in response.json()


def test_unsafe_request_id_is_replaced() -> None:
    response = Client().get("/v1/nothing", HTTP_X_REQUEST_ID="bad id\nwith newline")

    assert response["X-Request-ID"] != "bad id\nwith newline"
    assert len(response["X-Request-ID"]) == 32


def test_successful_and_admin_responses_carry_a_request_id(api: APIClient) -> None:
    shop = api.get("/v1/shop")
    admin = Client().get("/admin/login/")

    assert shop.status_code == 200 and len(shop["X-Request-ID"]) == 32
    assert admin.status_code == 200 and len(admin["X-Request-ID"]) == 32


def test_v1_error_carries_a_formatted_message_sentence(api: APIClient) -> None:
    response = api.patch("/v1/shop", {"compression_level_jpg": 500}, format="json")

    assert response.status_code == 422
    body = response.json()
    assert list(body["message"]) == ["compression_level_jpg"]
    assert body["formatted_message"].startswith("compression_level_jpg: ")
    assert "100" in body["formatted_message"]


def test_v1_plain_error_repeats_its_message_as_formatted_message() -> None:
    response = APIClient().get("/v1/shop")

    assert response.status_code == 401
    assert response.json()["formatted_message"] == response.json()["message"]
