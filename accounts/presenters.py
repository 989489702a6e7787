"""Output shapes of an account shared by `GET /v1/shop` and the `subscription_updated` webhook event, so the
two spell the plan the same way."""

from typing import Any

from accounts.models import Account
from crush.lib.timestamps import iso_utc


def plan_data(account: Account, *, quota_usage: int) -> dict[str, Any]:
    """`{"code", "name", "price", "bytes", "quota_usage"}`; `bytes` null: unlimited; `price`: a number."""
    return {
        "code": account.plan_code,
        "name": account.plan_name,
        "price": float(account.plan_price),
        "bytes": account.plan_bytes,
        "quota_usage": quota_usage,
    }


def subscription_data(account: Account, *, quota_usage: int) -> dict[str, Any]:
    """The payload of a `subscription_updated` event (the outbox adds `id`, `event` and `created_at`)."""
    return {
        "shop_identifier": account.login,
        "quota_usage": quota_usage,
        "plan_data": plan_data(account, quota_usage=quota_usage),
        "next_charge_at": iso_utc(account.next_charge_at),
    }
