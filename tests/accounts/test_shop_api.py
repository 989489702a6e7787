import datetime

import pytest
from rest_framework.test import APIClient

from accounts import services
from accounts.models import Account
from webhooks.models import CallbackUrl

pytestmark = pytest.mark.django_db

SHOP_KEYS = {
    "login",
    "email",
    "compression_type",
    "compression_level_jpg",
    "compression_level_png",
    "compression_level_gif",
    "quality_target",
    "charged_at",
    "next_charge_at",
    "created_at",
    "updated_at",
    "callback_urls",
    "plan_data",
}


def test_shop_get_answers_the_account_with_plan_and_usage(api: APIClient, account: Account) -> None:
    account.plan_code, account.plan_name, account.plan_price = "pro", "Pro", "9.99"
    account.charged_at = datetime.datetime(2026, 11, 1, 8, 30, 0, 123456, tzinfo=datetime.UTC)
    account.save()
    services.quota_reserve(account=account, size_bytes=1234)

    response = api.get("/v1/shop")

    assert response.status_code == 200
    shop = response.json()["shop"]
    assert set(shop) == SHOP_KEYS
    assert shop["login"] == account.login
    assert shop["email"] == account.email
    assert shop["compression_type"] == "balanced"
    assert shop["compression_level_jpg"] == 80
    assert shop["charged_at"] == "2026-11-01T08:30:00.123Z"
    assert shop["next_charge_at"] is None
    assert shop["created_at"].endswith("Z")
    assert shop["callback_urls"] == []
    assert shop["plan_data"] == {
        "code": "pro",
        "name": "Pro",
        "price": 9.99,
        "bytes": account.plan_bytes,
        "quota_usage": 1234,
    }


def test_shop_get_matches_with_a_trailing_slash_and_a_json_content_type(api: APIClient) -> None:
    response = api.get("/v1/shop/", content_type="application/json")

    assert response.status_code == 200
    assert "shop" in response.json()


def test_shop_get_shows_unlimited_plan_as_null_bytes(api: APIClient, account: Account) -> None:
    Account.objects.filter(pk=account.pk).update(plan_bytes=None)

    response = api.get("/v1/shop")

    assert response.json()["shop"]["plan_data"]["bytes"] is None


@pytest.mark.parametrize("fmt", ["json", "multipart"])
def test_shop_patch_updates_settings_and_ignores_unknown_fields(
    api: APIClient, account: Account, fmt: str
) -> None:
    body = {
        "compression_type": "lossy",
        "compression_level_jpg": "65",
        "compression_level_png": 100,
        "compression_level_gif": 1,
        "email": "new@example.com",
        "login": "hijacked",
        "plan_bytes": 1,
        "whatever": "x",
    }

    response = api.patch("/v1/shop", body, format=fmt)

    assert response.status_code == 200
    shop = response.json()["shop"]
    assert shop["compression_type"] == "lossy"
    assert (shop["compression_level_jpg"], shop["compression_level_png"], shop["compression_level_gif"]) == (
        65,
        100,
        1,
    )
    assert shop["email"] == "new@example.com"
    account.refresh_from_db()
    assert account.login != "hijacked"
    assert account.plan_bytes != 1
    assert account.compression_level_jpg == 65


def test_shop_patch_with_one_field_keeps_the_others(api: APIClient, account: Account) -> None:
    response = api.patch("/v1/shop/", {"compression_level_png": 42}, format="json")

    assert response.status_code == 200
    account.refresh_from_db()
    assert account.compression_level_png == 42
    assert account.compression_level_jpg == 80
    assert account.compression_type == "balanced"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("compression_level_jpg", 0),
        ("compression_level_jpg", 101),
        ("compression_level_jpg", "abc"),
        ("compression_level_gif", -5),
        ("compression_level_gif", 2.5),
        ("compression_type", "ultra"),
        ("compression_type", ""),
        ("email", "not-an-email"),
    ],
)
def test_shop_patch_rejects_invalid_values_with_422_per_field(
    api: APIClient, account: Account, field: str, value: object
) -> None:
    valid_alongside = {"compression_level_png": 50}

    response = api.patch("/v1/shop", {field: value, **valid_alongside}, format="json")

    assert response.status_code == 422
    message = response.json()["message"]
    assert list(message) == [field]
    assert isinstance(message[field], list) and all(isinstance(text, str) for text in message[field])
    account.refresh_from_db()
    assert account.compression_level_png == 80  # nothing of a rejected request is saved


def test_shop_patch_reports_every_invalid_field(api: APIClient) -> None:
    response = api.patch("/v1/shop", {"compression_level_jpg": 0, "compression_type": "x"}, format="json")

    assert response.status_code == 422
    assert set(response.json()["message"]) == {"compression_level_jpg", "compression_type"}


def test_shop_delete_is_a_json_405(api: APIClient) -> None:
    response = api.delete("/v1/shop")

    assert response.status_code == 405
    assert isinstance(response.json()["message"], str)


def test_shop_of_a_sub_account_counts_its_own_usage(account: Account) -> None:
    sub = services.account_create(login="sub-of-shop", parent=account, plan_bytes=10_000)
    services.quota_reserve(account=sub, size_bytes=300)
    services.quota_reserve(account=account, size_bytes=50)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {services.api_token_create(account=sub).raw}")

    response = client.get("/v1/shop")

    assert response.json()["shop"]["login"] == "sub-of-shop"
    assert response.json()["shop"]["plan_data"]["quota_usage"] == 300


# --- callback_url: what the Crush.pics WordPress plugin sends to register its webhook listener


def test_shop_patch_adds_a_callback_url_once_and_shows_its_secret_only_then(
    api: APIClient, account: Account
) -> None:
    url = "http://127.0.0.1:8080/wp-json/crush/webhook"

    first = api.patch("/v1/shop", {"callback_url": url, "compression_type": "lossy"}, format="json")
    again = api.patch("/v1/shop", {"callback_url": f" {url} "}, format="json")

    assert first.status_code == again.status_code == 200
    created = first.json()["callback_url"]
    assert created["url"] == url
    assert created["secret"].startswith("whsec_")
    assert created["disabled"] is False
    assert "callback_url" not in again.json()
    [stored] = CallbackUrl.objects.filter(account=account)
    assert (stored.id, stored.secret) == (created["id"], created["secret"])
    assert again.json()["shop"]["callback_urls"] == [{"id": stored.id, "url": url, "disabled": False}]
    assert again.json()["shop"]["compression_type"] == "lossy"


def test_shop_patch_keeps_the_callback_urls_the_account_has(api: APIClient, account: Account) -> None:
    other = CallbackUrl.objects.create(
        account=account, url="http://127.0.0.1:1/other", secret="whsec_b3RoZXI="
    )

    response = api.patch("/v1/shop", {"callback_url": "http://127.0.0.1:1/hook"}, format="json")

    assert response.status_code == 200
    assert [row["url"] for row in response.json()["shop"]["callback_urls"]] == [
        other.url,
        "http://127.0.0.1:1/hook",
    ]


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "ftp://example.com/hook",
        "http://127.0.0.1/hook",
        "http://169.254.169.254/latest",
        "http://[::1]/",
    ],
)
def test_shop_patch_refuses_a_callback_url_as_post_callback_urls_does_and_saves_nothing(
    api: APIClient, account: Account, settings, url: str
) -> None:
    settings.CRUSH_ALLOW_PRIVATE_URLS = False

    response = api.patch("/v1/shop", {"callback_url": url, "compression_level_png": 42}, format="json")
    reference = api.post("/v1/callback_urls", {"url": url}, format="json")

    assert response.status_code == reference.status_code == 422
    message = response.json()["message"]
    assert list(message) == ["callback_url"]
    assert message["callback_url"] == reference.json()["message"]["url"]
    account.refresh_from_db()
    assert account.compression_level_png == 80
    assert not CallbackUrl.objects.filter(account=account).exists()


@pytest.mark.parametrize("value", ["", "x" * 2049])
def test_shop_patch_rejects_a_blank_or_too_long_callback_url(api: APIClient, value: str) -> None:
    response = api.patch("/v1/shop", {"callback_url": value}, format="json")

    assert response.status_code == 422
    assert list(response.json()["message"]) == ["callback_url"]
