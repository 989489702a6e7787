import datetime

import pytest
from django.contrib.auth.models import User
from django.test import override_settings

from accounts.models import ConsumptionDay, QuotaPeriod
from compression.models import OptimizedImage, Status
from crush.platform_stats import broker_queue_lengths, platform_stats
from tests.factories import AccountFactory
from webhooks.models import CallbackUrl, DeliveryStatus

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 3, 10, 15, 30, tzinfo=datetime.UTC)
MIDNIGHT = datetime.datetime(2026, 3, 10, tzinfo=datetime.UTC)


@pytest.fixture
def platform(account, make_originals, make_deliveries):
    """A platform on 2026-03-10 15:30 UTC with hand-counted activity."""
    make_originals(account, 3, Status.COMPLETED, created_at=MIDNIGHT + datetime.timedelta(hours=1))
    make_originals(account, 1, Status.FAILED, created_at=MIDNIGHT)
    make_originals(account, 2, Status.ENQUEUED, created_at=NOW - datetime.timedelta(minutes=5))
    make_originals(
        account, 1, Status.ENQUEUED, created_at=MIDNIGHT - datetime.timedelta(hours=2)
    )  # yesterday
    make_originals(account, 1, Status.PROCESSING, created_at=NOW)
    make_originals(account, 4, Status.COMPLETED, created_at=MIDNIGHT - datetime.timedelta(seconds=1))
    for day, origin, before, after, files in [
        (datetime.date(2026, 3, 10), "file", 1000, 400, 2),
        (datetime.date(2026, 3, 10), "api", 500, 100, 1),
        (datetime.date(2026, 3, 1), "file", 8000, 6000, 5),
        (datetime.date(2026, 2, 28), "file", 99_999, 1, 9),  # last month
    ]:
        ConsumptionDay.objects.create(
            account=account, day=day, origin=origin, bytes_before=before, bytes_after=after, files=files
        )
    make_deliveries(account, 2, DeliveryStatus.FAILED, attempts=9)
    make_deliveries(account, 3, DeliveryStatus.PENDING, attempts=2)  # retrying
    make_deliveries(account, 1, DeliveryStatus.PENDING, attempts=0)  # not tried yet
    make_deliveries(account, 4, DeliveryStatus.DELIVERED)
    CallbackUrl.objects.create(account=account, url="https://x.example", secret="whsec_y", failing_since=NOW)
    month = datetime.date(2026, 3, 1)
    for login, plan_bytes, used in [
        ("full", 1000, 1000),
        ("ninety", 1000, 900),
        ("eighty-nine", 1000, 899),
        ("unlimited", None, 10**12),
    ]:
        QuotaPeriod.objects.create(
            account=AccountFactory.create(login=login, plan_bytes=plan_bytes), month=month, used_bytes=used
        )
    QuotaPeriod.objects.create(
        account=AccountFactory.create(login="last-month", plan_bytes=10),
        month=datetime.date(2026, 2, 1),
        used_bytes=10,
    )
    return account


def test_platform_stats_counts_by_hand(platform) -> None:
    stats = platform_stats(now=NOW)

    assert stats.jobs_today == {"enqueued": 2, "processing": 1, "completed": 3, "failed": 1}
    assert stats.jobs_today_total == 7
    assert (stats.traffic_today.files, stats.traffic_today.bytes_in, stats.traffic_today.bytes_out) == (
        3,
        1500,
        500,
    )
    assert stats.traffic_today.saved_bytes == 1000
    assert stats.traffic_month.bytes_in == 9500
    assert stats.traffic_month.bytes_out == 6500
    assert stats.traffic_month.files == 8
    assert (stats.queue_enqueued, stats.queue_processing) == (3, 1)
    assert stats.oldest_waiting_at == MIDNIGHT - datetime.timedelta(hours=2)
    assert (stats.deliveries_failed, stats.deliveries_retrying) == (2, 3)
    assert stats.callback_urls_failing == 1
    assert stats.near_allowance_count == 2
    assert [(use.login, use.percent) for use in stats.near_allowance] == [("full", 100.0), ("ninety", 90.0)]


def test_platform_stats_on_an_empty_platform(db) -> None:
    stats = platform_stats(now=NOW)

    assert stats.jobs_today_total == 0
    assert stats.traffic_today.saved_percent is None
    assert stats.oldest_waiting_at is None
    assert stats.near_allowance == []


def test_broker_queue_lengths_is_none_on_the_embedded_broker() -> None:
    with override_settings(CELERY_BROKER_URL="filesystem://"):
        assert broker_queue_lengths() is None


def test_broker_queue_lengths_is_none_when_redis_is_unreachable() -> None:
    with override_settings(CELERY_BROKER_URL="redis://127.0.0.1:1/0"):
        assert broker_queue_lengths() is None


def test_admin_landing_page_shows_the_numbers_to_staff(admin_client, platform) -> None:
    response = admin_client.get("/admin/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "Jobs today (UTC)" in page
    assert "Accounts near their allowance" in page
    assert 'id="crush-queue"' in page
    assert response.context["platform"].deliveries_failed == 2


def test_admin_landing_page_costs_the_same_queries_for_few_or_many_rows(
    admin_client, account, make_originals, make_deliveries, django_assert_max_num_queries
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    make_originals(account, 2)
    make_deliveries(account, 2, DeliveryStatus.FAILED)
    admin_client.get("/admin/")
    with CaptureQueriesContext(connection) as few:
        admin_client.get("/admin/")
    make_originals(account, 40, Status.ENQUEUED)
    make_deliveries(account, 40, DeliveryStatus.FAILED)
    for index in range(15):
        QuotaPeriod.objects.create(
            account=AccountFactory.create(plan_bytes=100),
            month=datetime.date.today().replace(day=1),
            used_bytes=95 + index % 5,
        )

    with django_assert_max_num_queries(len(few)):
        admin_client.get("/admin/")


@pytest.mark.parametrize("staff", [False, None])
def test_admin_landing_page_refuses_non_staff(client, db, staff) -> None:
    if staff is not None:
        client.force_login(User.objects.create_user("visitor", password="pw-12345678", is_staff=staff))

    response = client.get("/admin/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_broker_queue_lengths_reads_the_configured_broker() -> None:
    from django.conf import settings

    lengths = broker_queue_lengths()

    if settings.CELERY_BROKER_URL.startswith("redis"):  # CI: real Redis
        assert lengths is not None
        assert set(lengths) == {"compression", "webhooks", "maintenance", "fetch", "default"}
        assert all(isinstance(length, int) and length >= 0 for length in lengths.values())
    else:
        assert lengths is None


def test_platform_stats_counts_todays_engine_fallbacks(account, make_originals) -> None:
    # given: two optimized images of today's originals fell back, one of yesterday's did too
    today = make_originals(account, 3, Status.COMPLETED, created_at=MIDNIGHT + datetime.timedelta(hours=1))
    yesterday = make_originals(
        account, 1, Status.COMPLETED, created_at=MIDNIGHT - datetime.timedelta(hours=1)
    )
    fell_back = [today[0].pk, today[2].pk, yesterday[0].pk]
    OptimizedImage.objects.filter(original_id__in=fell_back).update(
        kept_original=True, warning="The optimizer failed on this file; the original is returned unchanged."
    )

    # when
    stats = platform_stats(now=NOW)

    # then
    assert stats.fallbacks_today == 2


def test_admin_landing_page_shows_the_fallback_count(admin_client, account, make_originals) -> None:
    [original] = make_originals(account, 1, Status.COMPLETED)
    OptimizedImage.objects.filter(original=original).update(warning="fell back")

    response = admin_client.get("/admin/")

    assert response.context["platform"].fallbacks_today == 1
    assert 'id="crush-fallbacks-today">1<' in response.content.decode()
