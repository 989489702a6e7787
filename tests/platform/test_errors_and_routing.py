import pytest
from django.test import override_settings
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_unknown_v1_route_answers_json_404() -> None:
    client = APIClient()

    response = client.get("/v1/no-such-thing/")

    assert response.status_code == 404
    assert response.json()["message"] == "Not found"


def test_unknown_imagerecycle_route_answers_errcode_404() -> None:
    client = APIClient()

    response = client.get("/imagerecycle/v1/nothing")

    assert response.status_code == 404
    assert response.json()["errCode"] == 404


def test_every_response_carries_a_request_id() -> None:
    client = APIClient()

    generated = client.get("/v1/nothing")
    echoed = client.get("/v1/nothing", HTTP_X_REQUEST_ID="abc12345-req")

    assert len(generated["X-Request-ID"]) == 32
    assert echoed["X-Request-ID"] == "abc12345-req"


def test_schema_and_docs_are_served_without_auth() -> None:
    client = APIClient()

    schema = client.get("/v1/schema/", HTTP_ACCEPT="application/json")
    docs = client.get("/v1/docs")

    assert schema.status_code == 200
    assert schema.json()["openapi"].startswith("3.")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content
    assert b"cdn" not in docs.content.lower()


@override_settings(CRUSH_REQUIRE_HTTPS=True)
def test_plain_http_api_call_is_refused_without_redirect(api: APIClient) -> None:
    plain = api.get("/v1/shop")
    forwarded = api.get("/v1/shop", HTTP_X_FORWARDED_PROTO="https", REMOTE_ADDR="127.0.0.1")
    forged = api.get("/v1/shop", HTTP_X_FORWARDED_PROTO="https", REMOTE_ADDR="203.0.113.9")

    assert plain.status_code == 403
    assert plain.json()["message"] == "HTTPS is required"
    assert forwarded.status_code != 403
    assert forged.status_code == 403
