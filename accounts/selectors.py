"""Reads for accounts."""

from django.db.models import QuerySet

from accounts.models import Account, QuotaPeriod
from accounts.services import month_start
from crush.errors import NotFound


def account_get_for_login(*, login: str) -> Account:
    account = Account.objects.filter(login=login).first()
    if account is None:
        raise NotFound(f"No account with login {login!r}")
    return account


def quota_used_this_month(*, account: Account) -> int:
    period = QuotaPeriod.objects.filter(account=account, month=month_start()).first()
    return period.used_bytes if period else 0


def sub_account_list(*, account: Account) -> QuerySet[Account]:
    return Account.objects.filter(parent=account).order_by("id")
