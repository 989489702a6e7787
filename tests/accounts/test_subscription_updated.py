"""The `subscription_updated` webhook event: one per change of what it shows, whoever makes the change (admin,
API, management command, the month's reset), none for any other change."""

import datetime
import io
import json
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from rest_framework.test import APIClient

from accounts import services
from accounts.models import Account, QuotaPeriod, month_start
from tests.factories import AccountFactory
from webhooks.models import CallbackUrl, WebhookEvent

pytestmark = pytest.mark.django_db

HOOK_URL = "http://127.0.0.1:9/wp-json/crush/webhook"  # never called: on-commit callbacks do not run here
ACCOUNTS = "/admin/accounts/account/"


@pytest.fixture
def shop(account: Account) -> Account:
    """The `account` fixture with an active callback URL (what makes events be written)."""
    CallbackUrl.objects.create(account=account, url=HOOK_URL, secret="whsec_dGVzdA==")
    return account


def events_of(account: Account) -> list[dict]:
    rows = WebhookEvent.objects.filter(account=account, event_type="subscription_updated").order_by("id")
    return [json.loads(row.body) for row in rows]


def previous_month() -> datetime.date:
    return (month_start() - datetime.timedelta(days=1)).replace(day=1)


def admin_change_form(account: Account, **changes: str) -> dict[str, str]:
    """The POST of the account's admin change form, unchanged but for `changes` (an account without
    sub-accounts or credentials: its inlines are empty)."""
    data = {
        "login": account.login,
        "email": account.email,
        "parent": "",
        "title": account.title,
        "description": account.description,
        "is_active": "on",
        "plan_code": account.plan_code,
        "plan_name": account.plan_name,
        "plan_price": str(account.plan_price),
        "plan_bytes": "" if account.plan_bytes is None else str(account.plan_bytes),
        "file_max_size": str(account.file_max_size),
        "charged_at_0": "",
        "charged_at_1": "",
        "next_charge_at_0": "",
        "next_charge_at_1": "",
        "compression_type": account.compression_type,
        "compression_level_jpg": str(account.compression_level_jpg),
        "compression_level_png": str(account.compression_level_png),
        "compression_level_gif": str(account.compression_level_gif),
        "quality_target": str(account.quality_target),
    }
    for prefix in ("sub_accounts", "api_tokens", "api_keys"):
        data |= {f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"}
        data |= {f"{prefix}-MIN_NUM_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "1000"}
    return data | changes


def run_command(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


# --- the payload


def test_subscription_updated_payload_spells_the_plan_as_get_shop_does(shop: Account, api: APIClient) -> None:
    services.quota_reserve(account=shop, size_bytes=1234)
    next_charge = datetime.datetime(2027, 1, 1, 8, 30, tzinfo=datetime.UTC)

    services.account_update(
        account=shop, plan_code="pro", plan_name="Pro", plan_price=Decimal("9.99"), next_charge_at=next_charge
    )

    [event] = events_of(shop)
    assert set(event) == {
        "id",
        "event",
        "created_at",
        "shop_identifier",
        "quota_usage",
        "plan_data",
        "next_charge_at",
    }
    assert event["event"] == "subscription_updated"
    assert event["id"].startswith("evt_")
    assert event["shop_identifier"] == shop.login
    assert event["quota_usage"] == 1234
    assert event["next_charge_at"] == "2027-01-01T08:30:00.000Z"
    shown = api.get("/v1/shop").json()["shop"]
    assert event["plan_data"] == shown["plan_data"]
    assert event["plan_data"] == {
        "code": "pro",
        "name": "Pro",
        "price": 9.99,
        "bytes": shop.plan_bytes,
        "quota_usage": 1234,
    }
    assert event["next_charge_at"] == shown["next_charge_at"]
    stored = WebhookEvent.objects.get(public_id=event["id"])
    assert stored.image_id is None


def test_subscription_updated_goes_nowhere_without_an_active_callback_url(account: Account) -> None:
    services.account_update(account=account, plan_bytes=5000)

    assert WebhookEvent.objects.count() == 0


# --- API: the one plan change a client may make is a sub-account's allowance (ImageRecycle accounts/sub/{id})


def test_subscription_updated_sent_once_when_the_parent_changes_a_sub_accounts_allowance(
    account: Account,
) -> None:
    sub = services.account_create(login="the-sub", parent=account, plan_bytes=10_000)
    CallbackUrl.objects.create(account=sub, url=HOOK_URL, secret="whsec_dGVzdA==")
    issued = services.api_key_create(account=account)
    auth = json.dumps({"key": issued.api_key.key, "secret": issued.secret})

    response = APIClient().put(
        f"/imagerecycle/v1/accounts/sub/{sub.pk}?{urlencode({'auth': auth, 'quota': 2000})}"
    )

    assert response.status_code == 200, response.content
    [event] = events_of(sub)
    assert event["shop_identifier"] == "the-sub"
    assert event["plan_data"]["bytes"] == 2000
    assert events_of(account) == []


def test_subscription_updated_not_sent_for_a_shop_patch_of_settings_or_of_the_plan(
    shop: Account, api: APIClient
) -> None:
    response = api.patch(
        "/v1/shop",
        {
            "compression_type": "lossy",
            "email": "new@example.com",
            "plan_bytes": 1,
            "plan_code": "free-forever",
        },
        format="json",
    )

    assert response.status_code == 200
    assert events_of(shop) == []  # a shop cannot change its own plan: those fields are ignored


def test_subscription_updated_not_sent_when_an_update_leaves_the_plan_as_it_was(shop: Account) -> None:
    services.account_update(
        account=shop, plan_bytes=shop.plan_bytes, plan_price=Decimal("0.00"), email="x@y.z"
    )

    assert events_of(shop) == []


# --- admin


def test_subscription_updated_sent_once_when_an_operator_changes_the_plan_in_the_admin(
    shop: Account, admin_client: Client
) -> None:
    response = admin_client.post(
        f"{ACCOUNTS}{shop.pk}/change/",
        admin_change_form(shop, plan_code="pro", plan_name="Pro", plan_bytes="5000000"),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    [event] = events_of(shop)
    assert (event["plan_data"]["code"], event["plan_data"]["name"]) == ("pro", "Pro")
    assert event["plan_data"]["bytes"] == 5_000_000
    shop.refresh_from_db()
    assert shop.plan_bytes == 5_000_000


def test_subscription_updated_not_sent_when_the_admin_changes_something_else(
    shop: Account, admin_client: Client
) -> None:
    response = admin_client.post(
        f"{ACCOUNTS}{shop.pk}/change/", admin_change_form(shop, title="Renamed", compression_level_jpg="60")
    )

    assert response.status_code == 302
    shop.refresh_from_db()
    assert (shop.title, shop.compression_level_jpg) == ("Renamed", 60)
    assert events_of(shop) == []


def test_subscription_updated_sent_once_when_the_admin_resets_a_used_allowance(
    shop: Account, admin_client: Client
) -> None:
    services.quota_reserve(account=shop, size_bytes=700)
    idle = AccountFactory.create()
    CallbackUrl.objects.create(account=idle, url=HOOK_URL, secret="whsec_dGVzdA==")

    admin_client.post(ACCOUNTS, {"action": "reset_usage", "_selected_action": [shop.pk, idle.pk]})

    [event] = events_of(shop)
    assert event["quota_usage"] == event["plan_data"]["quota_usage"] == 0
    assert events_of(idle) == []  # nothing used: nothing shown changed


# --- management command


def test_subscription_updated_sent_once_by_set_plan_and_not_when_run_again(shop: Account) -> None:
    args = ("set_plan", shop.login, "--code", "pro", "--price", "19.90", "--bytes", "5000000")

    printed = json.loads(run_command(*args, "--next-charge-at", "2027-02-01T00:00:00Z"))
    run_command(*args)

    [event] = events_of(shop)
    assert printed == {key: event[key] for key in printed}
    assert event["plan_data"] | {"quota_usage": 0} == {
        "code": "pro",
        "name": shop.plan_name,
        "price": 19.9,
        "bytes": 5_000_000,
        "quota_usage": 0,
    }
    assert event["next_charge_at"] == "2027-02-01T00:00:00.000Z"


def test_set_plan_unlimited_and_no_next_charge(shop: Account) -> None:
    Account.objects.filter(pk=shop.pk).update(
        next_charge_at=datetime.datetime(2027, 1, 1, tzinfo=datetime.UTC)
    )

    run_command("set_plan", shop.login, "--unlimited", "--next-charge-at", "none")

    shop.refresh_from_db()
    assert (shop.plan_bytes, shop.next_charge_at) == (None, None)
    [event] = events_of(shop)
    assert (event["plan_data"]["bytes"], event["next_charge_at"]) == (None, None)


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("--bytes", "0"),
        ("--bytes", "10", "--unlimited"),
        ("--price", "1.234"),
        ("--price", "-1"),
        ("--next-charge-at", "tomorrow"),
    ],
)
def test_set_plan_refuses_nothing_to_change_and_invalid_values(shop: Account, args: tuple[str, ...]) -> None:
    with pytest.raises(CommandError):
        run_command("set_plan", shop.login, *args)

    assert events_of(shop) == []


def test_set_plan_of_an_unknown_login_fails() -> None:
    with pytest.raises(CommandError, match="nobody"):
        run_command("set_plan", "nobody", "--bytes", "10")


# --- the month's reset


def test_subscription_updated_sent_once_at_the_month_reset_by_beat(shop: Account) -> None:
    QuotaPeriod.objects.create(account=shop, month=previous_month(), used_bytes=900)
    unused = AccountFactory.create()
    CallbackUrl.objects.create(account=unused, url=HOOK_URL, secret="whsec_dGVzdA==")
    QuotaPeriod.objects.create(account=unused, month=previous_month(), used_bytes=0)

    opened = services.quota_months_open()
    again = services.quota_months_open()
    services.quota_reserve(account=shop, size_bytes=10)

    assert (opened, again) == (1, 0)
    [event] = events_of(shop)
    assert event["quota_usage"] == event["plan_data"]["quota_usage"] == 0
    assert events_of(unused) == []


def test_subscription_updated_sent_once_at_the_month_reset_by_the_first_upload_without_beat(
    shop: Account,
) -> None:
    QuotaPeriod.objects.create(account=shop, month=previous_month(), used_bytes=900)

    services.quota_reserve(account=shop, size_bytes=10)
    services.quota_reserve(account=shop, size_bytes=10)
    opened = services.quota_months_open()

    assert opened == 0
    [event] = events_of(shop)
    assert event["quota_usage"] == 0  # the reset itself; the upload's bytes come with its own event
    assert QuotaPeriod.objects.get(account=shop, month=month_start()).used_bytes == 20


def test_month_reset_announces_a_sub_account_and_its_parent_each_once(shop: Account) -> None:
    sub = services.account_create(login="sub-of-shop", parent=shop, plan_bytes=10_000)
    CallbackUrl.objects.create(account=sub, url=HOOK_URL, secret="whsec_dGVzdA==")
    QuotaPeriod.objects.create(account=shop, month=previous_month(), used_bytes=900)
    QuotaPeriod.objects.create(account=sub, month=previous_month(), used_bytes=300)

    services.quota_reserve(account=sub, size_bytes=10)

    assert len(events_of(shop)) == 1
    assert len(events_of(sub)) == 1


def test_month_reset_task_runs_the_service(shop: Account) -> None:
    from accounts.tasks import quota_months_open_task

    QuotaPeriod.objects.create(account=shop, month=previous_month(), used_bytes=900)

    quota_months_open_task.delay()

    assert len(events_of(shop)) == 1


def test_month_reset_skips_deactivated_accounts(shop: Account) -> None:
    QuotaPeriod.objects.create(account=shop, month=previous_month(), used_bytes=900)
    services.account_deactivate(account=shop)

    assert services.quota_months_open() == 0
    assert events_of(shop) == []


def test_month_reset_task_is_run_hourly_by_beat(settings) -> None:
    from accounts.tasks import quota_months_open_task

    entry = settings.CELERY_BEAT_SCHEDULE["accounts-quota-months-open"]

    assert entry == {"task": quota_months_open_task.name, "schedule": 3600}
