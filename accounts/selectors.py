"""Reads for accounts."""

import datetime
from dataclasses import dataclass

from django.db import models
from django.db.models import F, FloatField, Q, QuerySet, Sum
from django.db.models.functions import Cast, Greatest, TruncMonth
from django.utils import timezone

from accounts.models import Account, ConsumptionDay, QuotaPeriod
from accounts.services import month_start
from crush.errors import NotFound, ValidationFailed


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


# --- the consumption report of /v1/dashboard and the admin's account chart


class ReportType(models.TextChoices):
    WEEK = "week"
    MONTH = "month"
    SIX_MONTHS = "six_months"


DAYS_IN_REPORT = {ReportType.WEEK: 7, ReportType.MONTH: 30}
MONTHS_IN_REPORT = 6


@dataclass(frozen=True, slots=True)
class ConsumptionCell:
    origin: str
    size: int  # bytes of originals
    period: int  # day of month (week, month) or month number (six_months)


@dataclass(frozen=True, slots=True)
class ConsumptionReport:
    """Original bytes per origin and period: `series[origin]` is aligned with `columns`; `data` lists the
    non-empty cells in column order."""

    type: str
    columns: list[str]
    series: dict[str, list[int]]
    data: list[ConsumptionCell]


def _months_back(month: datetime.date, count: int) -> datetime.date:
    index = month.year * 12 + month.month - 1 - count
    return datetime.date(index // 12, index % 12 + 1, 1)


def consumption_report(
    *, account: Account, report_type: str, today: datetime.date | None = None
) -> ConsumptionReport:
    """Consumption of the account and its sub-accounts over the periods ending `today` (UTC by default).

    Summed by the database from the ledger (one GROUP BY query), so its cost follows the number of
    (day, origin) rows in the window, never the number of originals.
    """
    today = today or timezone.now().astimezone(datetime.UTC).date()
    ledger = ConsumptionDay.objects.filter(
        account__in=Account.objects.filter(Q(pk=account.pk) | Q(parent=account.pk)).values("pk")
    ).order_by()
    if report_type == ReportType.SIX_MONTHS:
        first = _months_back(today.replace(day=1), MONTHS_IN_REPORT - 1)
        periods = [_months_back(today.replace(day=1), back) for back in range(MONTHS_IN_REPORT - 1, -1, -1)]
        labels = [f"{month:%Y-%m}" for month in periods]
        rows = (
            ledger.filter(day__gte=first, day__lte=today)
            .annotate(period=TruncMonth("day"))
            .values("period", "origin")
            .annotate(size=Sum("bytes_before"))
        )
    elif report_type in DAYS_IN_REPORT:
        days = DAYS_IN_REPORT[ReportType(report_type)]
        periods = [today - datetime.timedelta(days=back) for back in range(days - 1, -1, -1)]
        labels = [day.isoformat() for day in periods]
        rows = (
            ledger.filter(day__gte=periods[0], day__lte=today)
            .values("origin", period=F("day"))
            .annotate(size=Sum("bytes_before"))
        )
    else:
        raise ValidationFailed({"report_type": [f"Must be one of: {', '.join(ReportType.values)}."]})

    column_of = {period: index for index, period in enumerate(periods)}
    series: dict[str, list[int]] = {}
    for row in rows:
        series.setdefault(row["origin"], [0] * len(periods))[column_of[row["period"]]] += row["size"]
    series = dict(sorted(series.items()))
    data = [
        ConsumptionCell(
            origin=origin,
            size=size,
            period=period.month if report_type == ReportType.SIX_MONTHS else period.day,
        )
        for index, period in enumerate(periods)
        for origin, sizes in series.items()
        if (size := sizes[index])
    ]
    return ConsumptionReport(type=report_type, columns=labels, series=series, data=data)


# --- the operators' landing page

NEAR_ALLOWANCE_PERCENT = 90


@dataclass(frozen=True, slots=True)
class AllowanceUse:
    account_id: int
    login: str
    used_bytes: int
    allowed_bytes: int

    @property
    def percent(self) -> float:
        return 100 * self.used_bytes / self.allowed_bytes if self.allowed_bytes else 100.0


def accounts_near_allowance(
    *, month: datetime.date, percent: int = NEAR_ALLOWANCE_PERCENT, limit: int = 10
) -> tuple[int, list[AllowanceUse]]:
    """(how many accounts used ≥ `percent` of their allowance in `month`, the `limit` fullest of them)."""
    near = (
        QuotaPeriod.objects.filter(month=month, account__plan_bytes__isnull=False)
        .annotate(used_scaled=F("used_bytes") * 100)
        .filter(used_scaled__gte=F("account__plan_bytes") * percent)
    )
    share = Cast("used_bytes", FloatField()) / Greatest(Cast("account__plan_bytes", FloatField()), 1.0)
    fullest = near.order_by(share.desc(), "account_id").values_list(
        "account_id", "account__login", "used_bytes", "account__plan_bytes"
    )[:limit]
    return near.count(), [AllowanceUse(*row) for row in fullest]
