import datetime

import pytest

from accounts.models import ConsumptionDay
from accounts.selectors import ConsumptionCell, consumption_report
from crush.lib.errors import ValidationFailed
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

D = datetime.date


def ledger(account, day: datetime.date, origin: str, bytes_before: int, files: int = 1) -> None:
    ConsumptionDay.objects.create(
        account=account,
        day=day,
        origin=origin,
        bytes_before=bytes_before,
        bytes_after=bytes_before // 2,
        files=files,
    )


@pytest.fixture
def shop(account):
    """The account, a sub-account and a stranger, with ledger rows in and around March 2026."""
    sub = AccountFactory.create(parent=account)
    stranger = AccountFactory.create()
    ledger(account, D(2026, 3, 10), "file", 1000)
    ledger(account, D(2026, 3, 10), "api", 50)
    ledger(sub, D(2026, 3, 10), "file", 200)  # same cell as the parent's row: summed
    ledger(sub, D(2026, 3, 8), "shopify", 7)
    ledger(account, D(2026, 3, 4), "file", 30)  # the first day of the week ending 2026-03-10
    ledger(account, D(2026, 3, 3), "file", 999_999)  # one day before the week
    ledger(account, D(2026, 2, 9), "api", 400)  # first day of the 30 days ending 2026-03-10
    ledger(account, D(2025, 10, 1), "wp", 11)  # first day of the six months ending March 2026
    ledger(account, D(2025, 9, 30), "wp", 888_888)  # one day before
    ledger(account, D(2026, 3, 11), "file", 777_777)  # after "today"
    ledger(stranger, D(2026, 3, 10), "file", 123_456)
    return account


def test_consumption_report_week_sums_account_and_sub_accounts_per_day_and_origin(shop) -> None:
    report = consumption_report(account=shop, report_type="week", today=D(2026, 3, 10))

    assert report.type == "week"
    assert report.columns == [
        "2026-03-04",
        "2026-03-05",
        "2026-03-06",
        "2026-03-07",
        "2026-03-08",
        "2026-03-09",
        "2026-03-10",
    ]
    assert report.series == {
        "api": [0, 0, 0, 0, 0, 0, 50],
        "file": [30, 0, 0, 0, 0, 0, 1200],
        "shopify": [0, 0, 0, 0, 7, 0, 0],
    }
    assert report.data == [
        ConsumptionCell(origin="file", size=30, period=4),
        ConsumptionCell(origin="shopify", size=7, period=8),
        ConsumptionCell(origin="api", size=50, period=10),
        ConsumptionCell(origin="file", size=1200, period=10),
    ]


def test_consumption_report_month_has_thirty_days_ending_today(shop) -> None:
    report = consumption_report(account=shop, report_type="month", today=D(2026, 3, 10))

    assert len(report.columns) == 30
    assert report.columns[0] == "2026-02-09"
    assert report.columns[-1] == "2026-03-10"
    assert report.series["api"][0] == 400
    assert sum(report.series["api"]) == 450
    assert sum(report.series["file"]) == 30 + 999_999 + 1200
    assert sum(report.series["shopify"]) == 7
    assert report.data[0] == ConsumptionCell(origin="api", size=400, period=9)
    assert len(report.data) == 6


def test_consumption_report_six_months_groups_by_calendar_month(shop) -> None:
    report = consumption_report(account=shop, report_type="six_months", today=D(2026, 3, 10))

    assert report.columns == ["2025-10", "2025-11", "2025-12", "2026-01", "2026-02", "2026-03"]
    assert report.series == {
        "api": [0, 0, 0, 0, 400, 50],
        "file": [0, 0, 0, 0, 0, 30 + 999_999 + 1200],
        "shopify": [0, 0, 0, 0, 0, 7],
        "wp": [11, 0, 0, 0, 0, 0],
    }
    assert report.data == [
        ConsumptionCell(origin="wp", size=11, period=10),
        ConsumptionCell(origin="api", size=400, period=2),
        ConsumptionCell(origin="api", size=50, period=3),
        ConsumptionCell(origin="file", size=1_001_229, period=3),
        ConsumptionCell(origin="shopify", size=7, period=3),
    ]


def test_consumption_report_week_crosses_the_month_boundary(account) -> None:
    ledger(account, D(2026, 2, 28), "file", 5)
    ledger(account, D(2026, 3, 1), "file", 6)

    report = consumption_report(account=account, report_type="week", today=D(2026, 3, 1))

    assert report.columns == [
        "2026-02-23",
        "2026-02-24",
        "2026-02-25",
        "2026-02-26",
        "2026-02-27",
        "2026-02-28",
        "2026-03-01",
    ]
    assert report.series == {"file": [0, 0, 0, 0, 0, 5, 6]}
    assert report.data == [
        ConsumptionCell(origin="file", size=5, period=28),
        ConsumptionCell(origin="file", size=6, period=1),
    ]


def test_consumption_report_six_months_crosses_the_year_on_the_first_of_the_month(account) -> None:
    ledger(account, D(2026, 2, 28), "file", 5)
    ledger(account, D(2025, 9, 1), "file", 4)
    ledger(account, D(2025, 8, 31), "file", 3)

    report = consumption_report(account=account, report_type="six_months", today=D(2026, 3, 1))

    assert report.columns == ["2025-10", "2025-11", "2025-12", "2026-01", "2026-02", "2026-03"]
    assert report.series == {"file": [0, 0, 0, 0, 5, 0]}
    assert report.data == [ConsumptionCell(origin="file", size=5, period=2)]


def test_consumption_report_six_months_in_june_starts_in_january(account) -> None:
    report = consumption_report(account=account, report_type="six_months", today=D(2026, 6, 30))

    assert report.columns == ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06"]


def test_consumption_report_of_a_sub_account_leaves_out_its_parent(shop) -> None:
    sub = shop.sub_accounts.get()

    report = consumption_report(account=sub, report_type="week", today=D(2026, 3, 10))

    assert report.series == {"file": [0, 0, 0, 0, 0, 0, 200], "shopify": [0, 0, 0, 0, 7, 0, 0]}


def test_consumption_report_without_consumption_is_empty(account) -> None:
    report = consumption_report(account=account, report_type="month", today=D(2026, 3, 10))

    assert report.series == {}
    assert report.data == []
    assert len(report.columns) == 30


def test_consumption_report_is_one_query(shop, django_assert_num_queries) -> None:
    with django_assert_num_queries(1):
        consumption_report(account=shop, report_type="six_months", today=D(2026, 3, 10))


def test_consumption_report_rejects_an_unknown_type(account) -> None:
    with pytest.raises(ValidationFailed) as raised:
        consumption_report(account=account, report_type="year", today=D(2026, 3, 10))

    assert list(raised.value.message) == ["report_type"]
