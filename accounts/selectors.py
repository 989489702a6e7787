"""Reads for accounts."""

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.db.models import F, FloatField, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Cast, Coalesce, Greatest, TruncMonth
from django.utils import timezone

from accounts.models import Account, ApiKey, ConsumptionDay, QuotaPeriod, month_start
from crush.lib.errors import NotFound, ValidationFailed


@dataclass(frozen=True, slots=True)
class QuotaSummary:
    """This month's quota window (UTC calendar month, both ends inclusive) and what the account used in it."""

    start: datetime.date
    end: datetime.date
    used_bytes: int


def account_get_for_login(*, login: str) -> Account:
    account = Account.objects.filter(login=login).first()
    if account is None:
        raise NotFound(f"No account with login {login!r}")
    return account


def quota_used_this_month(*, account: Account) -> int:
    return _used_in(account, month_start())


def quota_used_month_before(*, account: Account, month: datetime.date) -> int:
    """What the account used in the calendar month before `month` (a first day)."""
    return _used_in(account, _month_before(month))


def account_ids_with_month_unopened(*, month: datetime.date) -> list[int]:
    """Active accounts that used some of the month before `month` and have no quota period in `month` yet:
    the ones whose monthly reset is still to be announced (accounts.services.quota_months_open)."""
    return list(
        Account.objects.filter(
            is_active=True, quota_periods__month=_month_before(month), quota_periods__used_bytes__gt=0
        )
        .exclude(quota_periods__month=month)
        .order_by("id")
        .values_list("id", flat=True)
    )


def _month_before(month: datetime.date) -> datetime.date:
    return (month - datetime.timedelta(days=1)).replace(day=1)


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
    )


# --- the consumption report of /v1/dashboard and the admin's account chart


@dataclass(frozen=True, slots=True)
class ImageCounts:
    original_images: int
    optimized_images: int


def image_counts(*, account: Account) -> ImageCounts:
    """Originals and optimized images the account and its sub-accounts have had processed (completed), all
    time, whether deleted since or not.

    Summed by the database from the ledger (`files`, `optimized_files`; one aggregate query), so its cost
    follows the account's (day, origin) rows, never the number of images: no cache needed.
    """
    totals = ConsumptionDay.objects.filter(
        account__in=Account.objects.filter(Q(pk=account.pk) | Q(parent=account.pk)).values("pk")
    ).aggregate(
        original_images=Coalesce(Sum("files"), 0),
        optimized_images=Coalesce(Sum("optimized_files"), 0),
    )
    return ImageCounts(original_images=totals["original_images"], optimized_images=totals["optimized_images"])


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
    rows: Iterable[Mapping[str, Any]]
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
    return near.count(), [
        AllowanceUse(account_id=pk, login=login, used_bytes=used, allowed_bytes=allowed or 0)
        for pk, login, used, allowed in fullest  # allowed is never null here: filtered above
    ]


# --- the ImageRecycle surface: sub-accounts and the consumption summary


def sub_account_list_live(*, account: Account) -> QuerySet[Account]:
    """The account's sub-accounts not deleted, each annotated with `quota_used_bytes` (this month) and
    `live_api_key` (the key of its live key/secret pair, or None), in one query."""
    return (
        Account.objects.filter(parent=account, is_active=True)
        .annotate(
            quota_used_bytes=Coalesce(
                Subquery(
                    QuotaPeriod.objects.filter(account=OuterRef("pk"), month=month_start()).values(
                        "used_bytes"
                    )[:1]
                ),
                0,
            ),
            live_api_key=Subquery(
                ApiKey.objects.filter(account=OuterRef("pk"), revoked_at__isnull=True)
                .order_by("id")
                .values("key")[:1]
            ),
        )
        .order_by("id")
    )


def sub_account_get(*, account: Account, sub_account_id: int) -> Account:
    """One live sub-account of `account` (annotated like sub_account_list_live); NotFound otherwise."""
    sub_account = sub_account_list_live(account=account).filter(pk=sub_account_id).first()
    if sub_account is None:
        raise NotFound()
    return sub_account


LAST_DAYS = 30
LAST_MONTHS = 12


@dataclass(frozen=True, slots=True)
class ConsumptionPeriod:
    start: datetime.date  # the day, or the first day of the month
    bytes_before: int
    bytes_after: int
    files: int


@dataclass(frozen=True, slots=True)
class ConsumptionSummary:
    """Oldest period first; periods without activity are zeros."""

    last_days: list[ConsumptionPeriod]
    last_months: list[ConsumptionPeriod]


def consumption_summary(*, account: Account, today: datetime.date | None = None) -> ConsumptionSummary:
    """Bytes before/after and files compressed by the account (and its sub-accounts, which count against
    it) over the last 30 UTC days and the last 12 calendar months, today's included. Two GROUP BY queries
    over the ledger."""
    today = today or timezone.now().astimezone(datetime.UTC).date()
    ledger = ConsumptionDay.objects.filter(
        account__in=Account.objects.filter(Q(pk=account.pk) | Q(parent=account.pk)).values("pk")
    ).order_by()
    totals = {
        "bytes_before": Sum("bytes_before"),
        "bytes_after": Sum("bytes_after"),
        "files": Sum("files"),
    }
    days = [today - datetime.timedelta(days=back) for back in range(LAST_DAYS - 1, -1, -1)]
    by_day = {
        row["day"]: row
        for row in ledger.filter(day__gte=days[0], day__lte=today).values("day").annotate(**totals)
    }
    this_month = today.replace(day=1)
    months = [_months_back(this_month, back) for back in range(LAST_MONTHS - 1, -1, -1)]
    by_month = {
        _as_date(row["month"]): row
        for row in ledger.filter(day__gte=months[0], day__lte=today)
        .annotate(month=TruncMonth("day"))
        .values("month")
        .annotate(**totals)
    }
    return ConsumptionSummary(
        last_days=[_consumption_period(day, by_day.get(day)) for day in days],
        last_months=[_consumption_period(month, by_month.get(month)) for month in months],
    )


def _as_date(value: datetime.date | datetime.datetime) -> datetime.date:
    return value.date() if isinstance(value, datetime.datetime) else value


def _consumption_period(start: datetime.date, row: Any) -> ConsumptionPeriod:
    if row is None:
        return ConsumptionPeriod(start=start, bytes_before=0, bytes_after=0, files=0)
    return ConsumptionPeriod(
        start=start, bytes_before=row["bytes_before"], bytes_after=row["bytes_after"], files=row["files"]
    )


# --- platform-wide (the operators' landing page)


@dataclass(frozen=True, slots=True)
class Traffic:
    """Originals accepted (bytes_before) and what compression made of them (bytes_after), from the ledger."""

    files: int
    bytes_in: int
    bytes_out: int

    @property
    def saved_bytes(self) -> int:
        return self.bytes_in - self.bytes_out

    @property
    def saved_percent(self) -> float | None:
        return 100 * self.saved_bytes / self.bytes_in if self.bytes_in else None


def platform_traffic(*, today: datetime.date) -> tuple[Traffic, Traffic]:
    """(today, this month up to today) over every account, in one query."""
    totals = ConsumptionDay.objects.filter(day__gte=today.replace(day=1), day__lte=today).aggregate(
        month_files=Sum("files"),
        month_in=Sum("bytes_before"),
        month_out=Sum("bytes_after"),
        today_files=Sum("files", filter=Q(day=today)),
        today_in=Sum("bytes_before", filter=Q(day=today)),
        today_out=Sum("bytes_after", filter=Q(day=today)),
    )
    return (
        Traffic(
            files=totals["today_files"] or 0,
            bytes_in=totals["today_in"] or 0,
            bytes_out=totals["today_out"] or 0,
        ),
        Traffic(
            files=totals["month_files"] or 0,
            bytes_in=totals["month_in"] or 0,
            bytes_out=totals["month_out"] or 0,
        ),
    )


def compression_count_this_month(*, account: Account) -> int:
    """Optimized files completed this UTC calendar month by the account and its sub-accounts, from the
    ledger: Tinify's `Compression-Count` (each output counts one, so a shrink is 1 and a transformed output
    of it 1 more, 2 with a resize or background)."""
    totals = ConsumptionDay.objects.filter(
        account__in=Account.objects.filter(Q(pk=account.pk) | Q(parent=account.pk)).values("pk"),
        day__gte=month_start(),
    ).aggregate(count=Coalesce(Sum("optimized_files"), 0))
    return int(totals["count"])
