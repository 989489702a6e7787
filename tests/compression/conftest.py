"""Fixtures of the compression tests that run real worker processes."""

from __future__ import annotations

import pytest
from werkzeug import Request, Response

from webhooks.services import callback_url_create


@pytest.fixture
def hooks(account, httpserver) -> list[bytes]:  # type: ignore[no-untyped-def]
    """A callback URL on a local receiver; the list fills with the bodies it receives."""
    received: list[bytes] = []

    def handler(request: Request) -> Response:
        received.append(request.get_data())
        return Response("ok")

    httpserver.expect_request("/hooks", method="POST").respond_with_handler(handler)
    callback_url_create(account=account, url=httpserver.url_for("/hooks"))
    return received
