import pytest
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts import credentials, selectors, services
from accounts.models import Account, ApiKey, ApiToken
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

ACCOUNTS = "/admin/accounts/account/"


def messages_of(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(message) for message in get_messages(response.wsgi_request)]


def make_rows(count: int) -> None:
    for _ in range(count):
        parent = AccountFactory.create()
        sub = AccountFactory.create(parent=parent)
        services.quota_reserve(account=sub, size_bytes=100)
        services.api_token_create(account=sub)


@pytest.mark.parametrize(
    "path",
    [
        ACCOUNTS,
        f"{ACCOUNTS}add/",
        "/admin/accounts/apitoken/",
        "/admin/accounts/apikey/",
        "/admin/accounts/apitoken/add/",
    ],
)
def test_admin_pages_open_for_staff(admin_client: Client, path: str) -> None:
    AccountFactory.create()

    response = admin_client.get(path)

    assert response.status_code == 200


def test_admin_redirects_non_staff_to_login(client: Client) -> None:
    client.force_login(User.objects.create_user("visitor", password="x"))

    response = client.get(ACCOUNTS)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_admin_account_change_page_shows_sub_accounts_and_credentials(admin_client: Client) -> None:
    parent = AccountFactory.create(login="the-parent", plan_bytes=2 * 2**20)
    AccountFactory.create(login="the-child", parent=parent)
    issued = services.api_token_create(account=parent)
    services.quota_reserve(account=parent, size_bytes=2**20)

    response = admin_client.get(f"{ACCOUNTS}{parent.pk}/change/")

    assert response.status_code == 200
    body = response.content.decode()
    assert "the-child" in body
    assert "1.0\xa0MB / 2.0\xa0MB (50%)" in body
    assert issued.token.prefix in body
    assert issued.raw not in body
    assert issued.token.token_hash not in body


def test_admin_account_list_shows_usage_against_allowance(admin_client: Client) -> None:
    account = AccountFactory.create(login="user-of-bytes", plan_bytes=4 * 2**20)
    services.quota_reserve(account=account, size_bytes=2**20)

    response = admin_client.get(ACCOUNTS, {"q": "user-of-bytes"})

    assert "1.0\xa0MB / 4.0\xa0MB (25%)" in response.content.decode()


def test_admin_account_list_query_count_does_not_grow_with_rows(
    admin_client: Client,
    django_assert_max_num_queries,  # type: ignore[no-untyped-def]
) -> None:
    make_rows(2)
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(ACCOUNTS).status_code == 200
    make_rows(10)

    with django_assert_max_num_queries(len(few)):
        response = admin_client.get(ACCOUNTS)

    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 24


def test_admin_account_list_search_and_kind_filter(admin_client: Client) -> None:
    parent = AccountFactory.create(login="alpha-shop")
    AccountFactory.create(login="alpha-sub", parent=parent)
    AccountFactory.create(login="beta-shop")

    searched = admin_client.get(ACCOUNTS, {"q": "alpha"})
    subs = admin_client.get(ACCOUNTS, {"kind": "sub"})
    mains = admin_client.get(ACCOUNTS, {"kind": "main"})

    assert {a.login for a in searched.context["cl"].result_list} == {"alpha-shop", "alpha-sub"}
    assert {a.login for a in subs.context["cl"].result_list} == {"alpha-sub"}
    assert {a.login for a in mains.context["cl"].result_list} == {"alpha-shop", "beta-shop"}


def test_admin_action_resets_this_months_usage(admin_client: Client) -> None:
    account = AccountFactory.create()
    services.quota_reserve(account=account, size_bytes=500)

    admin_client.post(ACCOUNTS, {"action": "reset_usage", "_selected_action": [account.pk]})

    assert selectors.quota_used_this_month(account=account) == 0


def test_admin_action_deactivates_and_the_token_stops_working(admin_client: Client) -> None:
    account = AccountFactory.create()
    other = AccountFactory.create()

    admin_client.post(ACCOUNTS, {"action": "deactivate", "_selected_action": [account.pk]})

    account.refresh_from_db()
    other.refresh_from_db()
    assert (account.is_active, other.is_active) == (False, True)


def test_admin_action_revokes_tokens_and_keys(admin_client: Client) -> None:
    account = AccountFactory.create()
    services.api_token_create(account=account)
    services.api_key_create(account=account)

    admin_client.post(ACCOUNTS, {"action": "revoke_tokens", "_selected_action": [account.pk]})
    admin_client.post(ACCOUNTS, {"action": "revoke_keys", "_selected_action": [account.pk]})

    assert not ApiToken.objects.filter(account=account, revoked_at__isnull=True).exists()
    assert not ApiKey.objects.filter(account=account, revoked_at__isnull=True).exists()


def test_admin_creating_a_token_shows_it_once_and_stores_its_hash(admin_client: Client) -> None:
    account = AccountFactory.create()

    response = admin_client.post(
        "/admin/accounts/apitoken/add/", {"account": account.pk, "name": "ci"}, follow=True
    )

    token = ApiToken.objects.get(account=account)
    shown = [m for m in messages_of(response) if "copy it now" in m]
    assert len(shown) == 1
    raw = next(word for word in shown[0].split() if word.startswith(credentials.TOKEN_PREFIX))
    assert token.token_hash == credentials.digest(raw)
    assert token.name == "ci"
    assert services.api_token_authenticate(raw_token=raw).pk == token.pk
    again = admin_client.get(f"/admin/accounts/apitoken/{token.pk}/change/").content.decode()
    assert raw not in again
    assert token.token_hash not in again


def test_admin_creating_a_key_shows_the_secret_once(admin_client: Client) -> None:
    account = AccountFactory.create()

    response = admin_client.post("/admin/accounts/apikey/add/", {"account": account.pk}, follow=True)

    api_key = ApiKey.objects.get(account=account)
    shown = next(m for m in messages_of(response) if "copy it now" in m)
    secret = shown.split("secret ")[1].split(" ")[0]
    assert services.api_key_authenticate(key=api_key.key, secret=secret).pk == api_key.pk
    assert secret not in admin_client.get(f"/admin/accounts/apikey/{api_key.pk}/change/").content.decode()


def test_admin_token_rename_keeps_the_hash(admin_client: Client) -> None:
    account = AccountFactory.create()
    issued = services.api_token_create(account=account, name="old")

    admin_client.post(f"/admin/accounts/apitoken/{issued.token.pk}/change/", {"name": "new"})

    issued.token.refresh_from_db()
    assert issued.token.name == "new"
    assert issued.token.token_hash == credentials.digest(issued.raw)


def test_admin_revoke_action_on_tokens(admin_client: Client) -> None:
    account: Account = AccountFactory.create()
    kept = services.api_token_create(account=account)
    revoked = services.api_token_create(account=account)

    admin_client.post(
        "/admin/accounts/apitoken/", {"action": "revoke", "_selected_action": [revoked.token.pk]}
    )

    assert services.api_token_authenticate(raw_token=kept.raw).pk == kept.token.pk
    revoked.token.refresh_from_db()
    assert revoked.token.revoked_at is not None
