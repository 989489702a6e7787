import datetime

import pytest
from django.utils import timezone

from accounts.models import ConsumptionDay
from compression.models import OptimizedImage, OriginalImage
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


def original(account, styles: tuple[str, ...] = ("original",)) -> OriginalImage:
    image = OriginalImage.objects.create(
        account=account,
        compression_type="balanced",
        origin="file",
        base_url="https://testserver",
        expire_at=timezone.now() + datetime.timedelta(days=30),
    )
    for style in styles:
        OptimizedImage.objects.create(
            original=image, style=style, compression_type="balanced", expire_at=image.expire_at
        )
    return image


def test_dashboard_counts_the_account_and_its_sub_accounts_and_reports_the_week(api, account) -> None:
    sub = AccountFactory(parent=account)
    original(account, styles=("original", "thumb"))
    original(account)
    original(sub, styles=("original", "thumb", "pico"))
    original(AccountFactory())  # another account's
    today = timezone.now().date()
    ConsumptionDay.objects.create(account=account, day=today, origin="file", bytes_before=1000, files=2)
    ConsumptionDay.objects.create(account=sub, day=today, origin="shopify", bytes_before=30, files=1)
    ConsumptionDay.objects.create(
        account=account, day=today - datetime.timedelta(days=6), origin="file", bytes_before=5, files=1
    )

    response = api.get("/v1/dashboard", {"report_type": "week"})

    assert response.status_code == 200
    week = [(today - datetime.timedelta(days=back)) for back in range(6, -1, -1)]
    assert response.json() == {
        "stats": {
            "original_images_count": 3,
            "optimized_images_count": 6,
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


def test_dashboard_counts_are_cached_per_account(api, account, django_assert_max_num_queries) -> None:
    api.get("/v1/dashboard")
    original(account)

    with django_assert_max_num_queries(4):  # token, last_used touch, account ids + ledger GROUP BY
        response = api.get("/v1/dashboard")

    assert response.json()["stats"]["original_images_count"] == 0  # a minute behind at most
