import datetime

import pytest
from django.utils import timezone

from accounts import services
from accounts.models import ConsumptionDay
from compression.models import OriginalImage
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


def test_dashboard_counts_the_account_and_its_sub_accounts_and_reports_the_week(api, account) -> None:
    sub = AccountFactory.create(parent=account)
    today = timezone.now().date()
    ledger = ConsumptionDay.objects.create
    ledger(account=account, day=today, origin="file", bytes_before=1000, files=2, optimized_files=3)
    ledger(account=sub, day=today, origin="shopify", bytes_before=30, files=1, optimized_files=3)
    ledger(
        account=account,
        day=today - datetime.timedelta(days=6),
        origin="file",
        bytes_before=5,
        files=1,
        optimized_files=1,
    )
    # Outside the week, still counted: the counts are all time.
    ledger(account=sub, day=today - datetime.timedelta(days=400), origin="api", files=4, optimized_files=8)
    stranger = AccountFactory.create()
    ledger(account=stranger, day=today, origin="file", files=100, optimized_files=200)

    response = api.get("/v1/dashboard", {"report_type": "week"})

    assert response.status_code == 200
    week = [(today - datetime.timedelta(days=back)) for back in range(6, -1, -1)]
    assert response.json() == {
        "stats": {
            "original_images_count": 2 + 1 + 1 + 4,
            "optimized_images_count": 3 + 3 + 1 + 8,
            "consumption": {
                "type": "week",
                "columns": [day.isoformat() for day in week],
                "series": {"file": [5, 0, 0, 0, 0, 0, 1000], "shopify": [0, 0, 0, 0, 0, 0, 30]},
                "data": [
                    {"origin": "file", "size": 5, "period": week[0].day},
                    {"origin": "file", "size": 1000, "period": today.day},
                    {"origin": "shopify", "size": 30, "period": today.day},
                ],
            },
        }
    }


def test_dashboard_without_report_type_is_the_week(api) -> None:
    response = api.get("/v1/dashboard/")

    assert response.status_code == 200
    consumption = response.json()["stats"]["consumption"]
    assert consumption["type"] == "week"
    assert len(consumption["columns"]) == 7
    assert consumption["series"] == {}
    assert consumption["data"] == []


@pytest.mark.parametrize(("report_type", "columns"), [("month", 30), ("six_months", 6)])
def test_dashboard_reports_month_and_six_months(api, account, report_type: str, columns: int) -> None:
    today = timezone.now().date()
    ConsumptionDay.objects.create(account=account, day=today, origin="api", bytes_before=42, files=1)

    response = api.get("/v1/dashboard", {"report_type": report_type})

    consumption = response.json()["stats"]["consumption"]
    assert consumption["type"] == report_type
    assert len(consumption["columns"]) == columns
    last = f"{today:%Y-%m}" if report_type == "six_months" else today.isoformat()
    assert consumption["columns"][-1] == last
    assert consumption["series"] == {"api": [0] * (columns - 1) + [42]}
    period = today.month if report_type == "six_months" else today.day
    assert consumption["data"] == [{"origin": "api", "size": 42, "period": period}]


def test_dashboard_rejects_an_unknown_report_type(api) -> None:
    response = api.get("/v1/dashboard", {"report_type": "year"})

    assert response.status_code == 422
    body = response.json()
    assert list(body["message"]) == ["report_type"]
    assert isinstance(body["message"]["report_type"], list)


def test_dashboard_needs_a_token() -> None:
    from rest_framework.test import APIClient

    response = APIClient().get("/v1/dashboard")

    assert response.status_code == 401
    assert "message" in response.json()


def test_dashboard_counts_come_from_the_ledger_without_a_cache(
    api, account, django_assert_num_queries
) -> None:
    api.get("/v1/dashboard")
    services.consumption_record(
        account=account, origin="file", bytes_before=100, bytes_after=40, optimized_files=2
    )

    # token, last_used touch, the counts aggregate, the ledger GROUP BY: never a COUNT over the images
    with django_assert_num_queries(4):
        response = api.get("/v1/dashboard")

    stats = response.json()["stats"]
    assert (stats["original_images_count"], stats["optimized_images_count"]) == (1, 2)


def test_dashboard_counts_outlive_deleted_images(api, account) -> None:
    """The counts are of images processed: deleting the rows (expiry, DELETE) does not lower them."""
    expire_at = timezone.now() + datetime.timedelta(days=30)
    original = OriginalImage.objects.create(
        account=account, compression_type="balanced", origin="file", base_url="https://t", expire_at=expire_at
    )
    services.consumption_record(
        account=account, origin="file", bytes_before=1, bytes_after=1, optimized_files=2
    )
    original.delete()

    stats = api.get("/v1/dashboard").json()["stats"]

    assert (stats["original_images_count"], stats["optimized_images_count"]) == (1, 2)
