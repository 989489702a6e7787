"""The HTTPS rule, and the OpenAPI schema and Swagger UI (served offline)."""

import json
import re

import pytest
from django.test import Client
from openapi_spec_validator import validate
from rest_framework.test import APIClient

from accounts import services
from accounts.models import Account

pytestmark = pytest.mark.django_db


@pytest.fixture
def require_https(settings):  # type: ignore[no-untyped-def]
    settings.CRUSH_REQUIRE_HTTPS = True
    settings.CRUSH_TRUSTED_PROXIES = ["10.0.0.0/8"]


def test_https_rule_refuses_plain_http_on_v1_with_json_403(require_https: None, api: APIClient) -> None:
    response = api.get("/v1/shop")

    assert response.status_code == 403
    assert response.json()["message"] == "HTTPS is required"
    assert "Location" not in response


def test_https_rule_refuses_before_authentication(require_https: None) -> None:
    response = APIClient().get("/v1/shop")

    assert response.status_code == 403


def test_https_rule_refuses_plain_http_on_imagerecycle_with_errcode(
    require_https: None, account: Account
) -> None:
    issued = services.api_key_create(account=account)
    auth = json.dumps({"key": issued.api_key.key, "secret": issued.secret})

    response = APIClient().get("/imagerecycle/v1/accounts/mine", {"auth": auth})

    assert response.status_code == 403
    assert response.json()["errCode"] == 403


def test_https_rule_lets_https_through(require_https: None, api: APIClient) -> None:
    response = api.get("/v1/shop", secure=True)

    assert response.status_code == 200


def test_https_rule_honours_forwarded_proto_from_a_trusted_proxy_only(
    require_https: None, api: APIClient
) -> None:
    trusted = api.get("/v1/shop", HTTP_X_FORWARDED_PROTO="https", REMOTE_ADDR="10.1.2.3")
    forged = api.get("/v1/shop", HTTP_X_FORWARDED_PROTO="https", REMOTE_ADDR="198.51.100.7")
    trusted_but_http = api.get("/v1/shop", HTTP_X_FORWARDED_PROTO="http", REMOTE_ADDR="10.1.2.3")

    assert trusted.status_code == 200
    assert forged.status_code == 403
    assert trusted_but_http.status_code == 403


def test_https_rule_builds_https_links_behind_a_trusted_proxy(require_https: None, api: APIClient) -> None:
    response = api.get("/v1/shop", HTTP_X_FORWARDED_PROTO="https", REMOTE_ADDR="10.1.2.3")

    assert response.wsgi_request.is_secure()
    assert response.wsgi_request.build_absolute_uri("/x").startswith("https://")


def test_https_rule_leaves_non_api_paths_alone(require_https: None) -> None:
    response = Client().get("/health/live")

    assert response.status_code == 200


def test_https_rule_is_off_by_default(api: APIClient) -> None:
    assert api.get("/v1/shop").status_code == 200


def test_schema_is_valid_openapi_3_and_describes_shop() -> None:
    response = Client().get("/v1/schema/", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    schema = response.json()
    validate(schema)
    assert schema["openapi"].startswith("3.")
    shop = schema["paths"]["/v1/shop"]
    assert set(shop) >= {"get", "patch"}
    assert shop["get"]["security"] == [{"bearerToken": []}]
    assert schema["components"]["securitySchemes"]["bearerToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schema["components"]["securitySchemes"]["bearerToken"]["description"],
    }
    plan = schema["components"]["schemas"]["PlanData"]["properties"]
    assert set(plan) == {"code", "name", "price", "bytes", "quota_usage"}


def test_schema_answers_yaml_without_slash_and_without_auth() -> None:
    response = Client().get("/v1/schema")

    assert response.status_code == 200
    assert b"openapi: 3." in response.content


def test_docs_serve_swagger_ui_from_local_static_files() -> None:
    client = Client()

    response = client.get("/v1/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html.lower()
    assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", html, re.IGNORECASE), (
        "external URL in docs"
    )
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', html)
    assert assets
    for asset in assets:
        assert asset.startswith("/"), asset
        assert client.get(asset).status_code == 200, asset
