import pytest
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
