"""Property: whatever body, query string and headers a client sends to any endpoint of either surface, the
answer is never a 5xx and always JSON (issue 13, "No 5xx from input").

The endpoints are read from the URLconf (as test_methods_and_paths does), so a route added later is covered.
Bodies are JSON of random shape and depth (up to far past the recursion limit), urlencoded and multipart forms
with the fields the API reads plus random ones (`resize[…][…]` indexes included), or raw bytes.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts import services
from accounts.models import Account
from crush.api.surfaces import IMAGERECYCLE, surface_of
from tests.platform.test_methods_and_paths import API_PATHS, _allowed_methods

pytestmark = pytest.mark.django_db

# Successful answers that are not JSON by design: the docs page, the schema, file downloads, zips.
NOT_JSON_ON_SUCCESS = ("/v1/docs", "/v1/schema", "/v1/files/", "/imagerecycle/v1/images/nothing/", "/zip/")
FIELD_NAMES = [
    "file",
    "image_url",
    "url",
    "params",
    "auth",
    "resize",
    "compression_type",
    "compression_level",
    "strip_tags",
    "origin",
    "title",
    "description",
    "quota",
    "monthly_quota",
    "email",
    "compression_level_jpg",
    "offset",
    "limit",
    "page",
    "per_page",
    "resize[][style]",
    "resize[][width]",
    "resize[0][height]",
]

ROUTES = [
    (path, method) for path in API_PATHS for method in sorted(_allowed_methods(path) - {"OPTIONS", "HEAD"})
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.sampled_from(FIELD_NAMES), children),
    max_leaves=20,
)


@st.composite
def deep_json(draw: st.DrawFn) -> str:
    depth = draw(st.sampled_from([33, 200, 5000, 100_000]))
    opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
    return opener * depth + ("1" if opener != "[" else "") + closer * depth


field_values = st.one_of(
    st.text(max_size=30),
    st.integers(min_value=-(2**80), max_value=2**80).map(str),
    json_values.map(json.dumps),
    deep_json(),
    st.just("9" * 5000),
)
form_keys = st.one_of(
    st.sampled_from(FIELD_NAMES),
    st.text(max_size=12),
    st.builds(
        lambda index, name: f"resize[{index}][{name}]",
        st.one_of(st.just(""), st.integers(min_value=0, max_value=10**6).map(str), st.just("9" * 5000)),
        st.sampled_from(["style", "width", "height", "strategy", "background", "x"]),
    ),
)
form_pairs = st.lists(st.tuples(form_keys, field_values), max_size=6)


@st.composite
def bodies(draw: st.DrawFn) -> tuple[bytes, str]:
    kind = draw(st.sampled_from(["json", "deep-json", "form", "multipart", "raw"]))
    if kind == "json":
        return json.dumps(draw(json_values)).encode(), "application/json"
    if kind == "deep-json":
        return draw(deep_json()).encode(), "application/json"
    if kind == "form":
        return urlencode(draw(form_pairs)).encode(), "application/x-www-form-urlencoded"
    if kind == "multipart":
        boundary = "hostileboundary"
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'.encode() + value.encode()
            for key, value in draw(form_pairs)
            if '"' not in key and "\r" not in key and "\n" not in key
        ]
        if draw(st.booleans()):
            name = draw(st.binary(max_size=12)).replace(b'"', b"").replace(b"\r", b"").replace(b"\n", b"")
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="'.encode()
                + name
                + b'"\r\nContent-Type: image/jpeg\r\n\r\n'
                + draw(st.binary(max_size=64))
            )
        body = b"\r\n".join(parts) + f"\r\n--{boundary}--\r\n".encode()
        return body, f"multipart/form-data; boundary={boundary}"
    content_type = draw(st.sampled_from(["application/json", "text/plain", "application/octet-stream", ""]))
    return draw(st.binary(max_size=200)), content_type


query_strings = st.lists(st.tuples(form_keys, field_values), max_size=4)
headers = st.dictionaries(
    st.sampled_from(
        ["Accept", "Accept-Encoding", "Content-Encoding", "X-Request-Id", "Origin", "Accept-Language"]
    ),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30),
    max_size=3,
)


@pytest.fixture
def credentials(account: Account, token: str) -> dict[str, str]:
    issued = services.api_key_create(account=account)
    return {
        "bearer": f"Bearer {token}",
        "auth": json.dumps({"key": issued.api_key.key, "secret": issued.secret}),
    }


@settings(
    max_examples=200,  # about 20 s on a shared 2-core machine
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
    derandomize=True,
)
@given(
    route=st.sampled_from(ROUTES),
    body=bodies(),
    query=query_strings,
    extra_headers=headers,
    authenticated=st.booleans(),
)
def test_no_input_gets_a_5xx_or_a_non_json_answer(
    credentials: dict[str, str],
    settings_fetch_fast: None,
    route: tuple[str, str],
    body: tuple[bytes, str],
    query: list[tuple[str, str]],
    extra_headers: dict[str, str],
    authenticated: bool,
) -> None:
    path, method = route
    data, content_type = body
    params = list(query)
    request_headers = dict(extra_headers)
    if authenticated:
        request_headers["Authorization"] = credentials["bearer"]
        if surface_of(path) is IMAGERECYCLE:
            params.append(("auth", credentials["auth"]))
    url = f"{path}?{urlencode(params)}" if params else path

    response = Client().generic(method, url, data, content_type=content_type, headers=request_headers)

    assert response.status_code < 500, (method, url[:200], data[:200], response.content[:300])
    if response.status_code == 204 or (response.status_code < 300 and path.startswith(NOT_JSON_ON_SUCCESS)):
        return
    if response.status_code < 300 and "/zip/" in path:
        return
    assert response["Content-Type"] == "application/json", (method, url[:200], response.content[:200])
    json.loads(response.content)


@pytest.fixture
def settings_fetch_fast(settings: Any) -> None:
    """Generated image_url values must not wait on the network."""
    settings.CRUSH_FETCH_CONNECT_TIMEOUT_SECONDS = 0.2
    settings.CRUSH_FETCH_READ_TIMEOUT_SECONDS = 0.2
    settings.CRUSH_FETCH_TOTAL_TIMEOUT_SECONDS = 0.5
