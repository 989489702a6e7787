"""Every operators' list page costs the same number of queries for 5 rows as for 50 (no per-row queries)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import QuotaPeriod
from accounts.services import month_start
from compression.models import Status
from tests.factories import AccountFactory
from webhooks.models import DeliveryStatus

pytestmark = pytest.mark.django_db

PAGES = {
    "accounts": "/admin/accounts/account/",
    "originals": "/admin/compression/originalimage/",
    "optimized images": "/admin/compression/optimizedimage/",
    "webhook events": "/admin/webhooks/webhookevent/",
    "deliveries": "/admin/webhooks/delivery/",
}


def add_rows(count: int, make_originals, make_deliveries) -> None:  # type: ignore[no-untyped-def]
    for _ in range(count):
        parent = AccountFactory.create()
        account = AccountFactory.create(parent=parent)
        QuotaPeriod.objects.create(account=account, month=month_start(), used_bytes=10)
        make_originals(account, 1, Status.COMPLETED)
        make_deliveries(account, 1, DeliveryStatus.FAILED)


def queries_for(client, url: str) -> int:  # type: ignore[no-untyped-def]
    client.get(url)  # warm per-process caches (content types) so only the page's own queries count
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


@pytest.mark.parametrize("page", PAGES)
def test_admin_changelist_query_count_does_not_grow_from_5_to_50_rows(
    page: str, admin_client, make_originals, make_deliveries, django_assert_max_num_queries
) -> None:
    add_rows(5, make_originals, make_deliveries)
    with_5 = queries_for(admin_client, PAGES[page])
    add_rows(45, make_originals, make_deliveries)
    admin_client.get(PAGES[page])

    with django_assert_max_num_queries(with_5):
        response = admin_client.get(PAGES[page])

    assert response.context["cl"].result_count >= 50
