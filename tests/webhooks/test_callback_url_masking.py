"""A password inside a callback URL is stored for delivery but shown as *** wherever the URL is displayed."""

import pytest
from rest_framework.test import APIClient

from crush.lib.urls import url_masked
from webhooks.models import CallbackUrl

pytestmark = pytest.mark.django_db

URL = "http://hook-user:s3cr3tpw@127.0.0.1:9/hooks?x=1"
MASKED = "http://hook-user:***@127.0.0.1:9/hooks?x=1"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (URL, MASKED),
        ("https://u:p:q@example.com/h", "https://u:***@example.com/h"),
        ("https://u:p@ss@example.com:8443/h", "https://u:***@example.com:8443/h"),
        ("https://token@example.com/h", "https://token@example.com/h"),
        ("https://example.com/h?user=a:b@c", "https://example.com/h?user=a:b@c"),
        ("https://example.com/h", "https://example.com/h"),
    ],
)
def test_url_masked_hides_only_the_password(url: str, shown: str) -> None:
    assert url_masked(url) == shown


def test_callback_url_password_is_stored_but_listed_masked(api: APIClient) -> None:
    # given
    created = api.post("/v1/callback_urls", {"url": URL}, format="json")

    # when
    listed = api.get("/v1/callback_urls")

    # then
    assert created.status_code == 201
    assert created.json()["callback_url"]["url"] == MASKED
    assert created.json()["callback_url"]["secret"].startswith("whsec_")
    assert CallbackUrl.objects.get(pk=created.json()["callback_url"]["id"]).url == URL
    assert [item["url"] for item in listed.json()["callback_urls"]] == [MASKED]
    assert "s3cr3tpw" not in listed.content.decode()


def test_shop_shows_callback_url_password_masked(api: APIClient) -> None:
    api.post("/v1/callback_urls", {"url": URL}, format="json")

    response = api.get("/v1/shop")

    assert [item["url"] for item in response.json()["shop"]["callback_urls"]] == [MASKED]
    assert "s3cr3tpw" not in response.content.decode()
