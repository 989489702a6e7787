"""A client of the ImageRecycle surface written from the original documentation (seeds/000_…): the `auth`
parameter is a JSON string, in the query string for GET/PUT/DELETE (as the original PHP client does) and in
the form body for POST."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts import services
from accounts.models import Account

BASE = "/imagerecycle/v1/"


class ImageRecycleClient:
    def __init__(self, key: str, secret: str) -> None:
        self.auth = json.dumps({"key": key, "secret": secret})
        self.http = APIClient()

    def get(self, path: str, **params: Any) -> Any:
        return self.http.get(BASE + path, {"auth": self.auth, **params})

    def post(self, path: str, data: dict[str, Any] | None = None, *, multipart: bool = False) -> Any:
        body = {"auth": self.auth, **(data or {})}
        return self.http.post(BASE + path, body, format="multipart" if multipart else None)

    def put(self, path: str, **params: Any) -> Any:
        from urllib.parse import urlencode

        return self.http.put(f"{BASE}{path}?{urlencode({'auth': self.auth, **params})}")

    def delete(self, path: str) -> Any:
        from urllib.parse import urlencode

        return self.http.delete(f"{BASE}{path}?{urlencode({'auth': self.auth})}")


def client_for(account: Account) -> ImageRecycleClient:
    issued = services.api_key_create(account=account)
    return ImageRecycleClient(issued.api_key.key, issued.secret)


@pytest.fixture
def ir(account: Account) -> ImageRecycleClient:
    """The `account` fixture's key/secret pair."""
    return client_for(account)
