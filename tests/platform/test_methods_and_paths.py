"""Every method on every API path answers JSON in its surface's shape: 404 for an unknown path, 405 with
`Allow` for a method the route does not take, and never Django's HTML CSRF page (API.md: "No HTML error
pages, ever, on these paths, whatever the method").

The known routes are read from the URLconf itself, so a route added later is covered without editing this
table.
"""

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve

from accounts import services
from accounts.models import Account
from crush.api.surfaces import CRUSHPICS, IMAGERECYCLE, surface_of

pytestmark = pytest.mark.django_db

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
SURFACE_PREFIXES = ("v1/", "imagerecycle/v1/")
# Sample values for the path converters; ids that no account owns, tokens that match no file.
CONVERTER_SAMPLES = {"int": "987654", "str": "nothing", "path": "nothing.jpg", "slug": "nothing"}
UNKNOWN_PATHS = [
    "/v1",
    "/v1/",
    "/v1/exports",
    "/v1/upload",
    "/v1/images/5",
    "/v1/invoices",
    "/v1/nope/deeper/still",
    "/v1/original_images/abc",
    "/imagerecycle",
    "/imagerecycle/v1",
    "/imagerecycle/v1/",
    "/imagerecycle/v1/nope",
    "/imagerecycle/v1/accounts/sub/abc",
    "/imagerecycle/v2/images",
]


def _routes(resolver: URLResolver, prefix: str = "") -> Iterator[str]:
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _routes(entry, route)
        elif isinstance(entry, URLPattern) and not route.startswith("^"):  # skip the regex catch-all
            yield route


def _concrete(route: str) -> str:
    return "/" + re.sub(r"<(\w+):\w+>", lambda match: CONVERTER_SAMPLES[match.group(1)], route)


# One path per route: each also matches with a trailing slash (crush.api.routing.slash_optional), same view.
API_PATHS = sorted(
    {_concrete(route).rstrip("/") for route in _routes(get_resolver()) if route.startswith(SURFACE_PREFIXES)}
)


def _allowed_methods(path: str) -> set[str]:
    view = resolve(path).func
    view_class: Any = getattr(view, "cls", None) or view.view_class  # type: ignore[attr-defined]
    allowed = {method.upper() for method in view_class.http_method_names if hasattr(view_class, method)}
    if "GET" in allowed:
        allowed.add("HEAD")  # Django answers HEAD with the GET handler
    return allowed | {"OPTIONS"}


@pytest.fixture
def credentials(account: Account, token: str) -> dict[str, str]:
    issued = services.api_key_create(account=account)
    return {
        "bearer": f"Bearer {token}",
        "imagerecycle": json.dumps({"key": issued.api_key.key, "secret": issued.secret}),
    }


def _request(method: str, path: str, credentials: dict[str, str] | None) -> Any:
    client = Client(enforce_csrf_checks=True)  # as a browser-less client meets the real server
    headers: dict[str, str] = {}
    url = path
    if credentials is not None:
        headers["Authorization"] = credentials["bearer"]
        if surface_of(path) is IMAGERECYCLE:
            url = f"{path}?{urlencode({'auth': credentials['imagerecycle']})}"
    return client.generic(method, url, b"", content_type="application/json", headers=headers)


def assert_error_in_surface_shape(response: Any, path: str, method: str) -> None:
    assert response["Content-Type"] == "application/json", response.content[:200]
    if method == "HEAD":
        return  # no body to a HEAD request
    body = response.json()
    if surface_of(path) is IMAGERECYCLE:
        assert body["errCode"] == response.status_code
        assert isinstance(body["errMessage"], str)
    else:
        assert "message" in body
        assert isinstance(body["formatted_message"], str)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("path", API_PATHS)
def test_known_path_answers_405_json_for_a_method_it_does_not_take(
    path: str, method: str, credentials: dict[str, str]
) -> None:
    allowed = _allowed_methods(path)

    response = _request(method, path, credentials)

    if method in allowed:
        assert response.status_code not in (403, 405), response.content[:200]
    else:
        assert response.status_code == 405
        assert method not in response["Allow"]
        assert {method.strip() for method in response["Allow"].split(",")} <= allowed
    if response.status_code >= 400:
        assert_error_in_surface_shape(response, path, method)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("path", API_PATHS)
def test_known_path_without_credentials_answers_json_never_the_csrf_page(path: str, method: str) -> None:
    allowed = _allowed_methods(path)

    response = _request(method, path, credentials=None)

    assert response.status_code != 403, response.content[:200]
    if method not in allowed:
        assert response.status_code == 405
    if response.status_code >= 400:
        assert_error_in_surface_shape(response, path, method)


@pytest.mark.parametrize("method", [*METHODS, "TRACE", "PROPFIND"])
@pytest.mark.parametrize("path", UNKNOWN_PATHS)
def test_unknown_path_answers_json_404_whatever_the_method(
    path: str, method: str, credentials: dict[str, str]
) -> None:
    response = _request(method, path, credentials)

    assert response.status_code == 404
    assert_error_in_surface_shape(response, path, method)
    if method != "HEAD":
        assert response.json()["code"] == "not_found"


def test_the_table_covers_both_surfaces() -> None:
    surfaces = {surface_of(path) for path in API_PATHS}

    assert surfaces == {CRUSHPICS, IMAGERECYCLE}
    assert len(API_PATHS) >= 20


def test_admin_keeps_csrf_protection(admin_user: Any) -> None:
    client = Client(enforce_csrf_checks=True)

    response = client.post("/admin/login/", {"username": admin_user.username, "password": "password"})

    assert response.status_code == 403
    assert b"CSRF" in response.content
