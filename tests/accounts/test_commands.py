import io
import json

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from accounts import credentials, services
from accounts.models import Account, ApiKey, ApiToken
from crush.lib.errors import Unauthenticated

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_create_account_prints_one_json_line_with_working_credentials() -> None:
    output = run("create_account", "acme", "--email", "ops@acme.test", "--plan-bytes", "5000")

    assert output.count("\n") == 1
    line = json.loads(output)
    assert set(line) == {"login", "token", "api_key", "api_secret"}
    assert line["login"] == "acme"
    account = Account.objects.get(login="acme")
    assert (account.email, account.plan_bytes) == ("ops@acme.test", 5000)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {line['token']}")
    assert client.get("/v1/shop").json()["shop"]["login"] == "acme"
    assert services.api_key_authenticate(key=line["api_key"], secret=line["api_secret"]).account == account


def test_create_account_stores_only_hashes_of_the_secrets() -> None:
    line = json.loads(run("create_account", "hashed"))

    token = ApiToken.objects.get(account__login="hashed")
    key = ApiKey.objects.get(account__login="hashed")
    assert token.token_hash == credentials.digest(line["token"])
    assert key.secret_hash == credentials.digest(line["api_secret"])
    assert line["token"] not in {token.token_hash, token.prefix}
    assert line["api_secret"] != key.secret_hash


def test_create_account_with_parent_and_file_max_size_makes_a_sub_account() -> None:
    run("create_account", "parent-shop")

    run("create_account", "child-shop", "--parent", "parent-shop", "--file-max-size", "2048")

    child = Account.objects.get(login="child-shop")
    assert child.parent is not None and child.parent.login == "parent-shop"
    assert child.file_max_size == 2048


def test_create_account_refuses_a_duplicate_login() -> None:
    run("create_account", "twice")

    with pytest.raises(CommandError, match="already exists"):
        run("create_account", "twice")

    assert Account.objects.filter(login="twice").count() == 1


def test_create_account_refuses_an_unknown_parent_and_creates_nothing() -> None:
    with pytest.raises(CommandError, match="nobody"):
        run("create_account", "orphan", "--parent", "nobody")

    assert not Account.objects.filter(login="orphan").exists()


@pytest.mark.parametrize("value", ["0", "-1", "lots"])
def test_create_account_refuses_a_non_positive_size(value: str) -> None:
    with pytest.raises(CommandError, match="positive"):
        run("create_account", "sized", "--file-max-size", value)

    assert not Account.objects.filter(login="sized").exists()


def test_create_account_refuses_an_invalid_email() -> None:
    with pytest.raises(CommandError, match="email"):
        run("create_account", "mailer", "--email", "nope")

    assert not Account.objects.filter(login="mailer").exists()


def test_rotate_token_prints_a_new_token_and_revokes_the_old_ones(account: Account) -> None:
    old = [services.api_token_create(account=account).raw for _ in range(2)]

    new = run("rotate_token", account.login).strip()

    for raw in old:
        with pytest.raises(Unauthenticated, match="Invalid or revoked"):
            services.api_token_authenticate(raw_token=raw)
    assert services.api_token_authenticate(raw_token=new).account == account
    assert ApiToken.objects.filter(account=account, revoked_at__isnull=True).count() == 1


def test_rotate_token_refuses_an_unknown_login() -> None:
    with pytest.raises(CommandError, match="ghost"):
        run("rotate_token", "ghost")
