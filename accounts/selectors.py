"""Reads for accounts."""

import datetime
from dataclasses import dataclass

from django.db.models import QuerySet

from accounts.models import Account, QuotaPeriod
from accounts.services import month_start
from crush.errors import NotFound


@dataclass(frozen=True, slots=True)
class QuotaSummary:
    """This month's quota window (UTC calendar month, both ends inclusive) and what the account used in it."""

    start: datetime.date
    end: datetime.date
    used_bytes: int
    allowed_bytes: int | None  # None: unlimited


def account_get_for_login(*, login: str) -> Account:
    account = Account.objects.filter(login=login).first()
    if account is None:
        raise NotFound(f"No account with login {login!r}")
    return account


def quota_used_this_month(*, account: Account) -> int:
    return _used_in(account, month_start())


def _used_in(account: Account, month: datetime.date) -> int:
    period = QuotaPeriod.objects.filter(account=account, month=month).first()
    return period.used_bytes if period else 0


def quota_summary(*, account: Account) -> QuotaSummary:
    start = month_start()
    next_month = (start + datetime.timedelta(days=32)).replace(day=1)
    return QuotaSummary(
        start=start,
        end=next_month - datetime.timedelta(days=1),
        used_bytes=_used_in(account, start),
        allowed_bytes=account.plan_bytes,
    )


def sub_account_list(*, account: Account) -> QuerySet[Account]:
    return Account.objects.filter(parent=account).order_by("id")
