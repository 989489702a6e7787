"""image_counts (the dashboard's counts) and the ledger column it sums, written by consumption_record."""

import datetime

import pytest

from accounts import services
from accounts.models import ConsumptionDay
from accounts.selectors import ImageCounts, image_counts
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

D = datetime.date


def test_consumption_record_adds_optimized_files_to_the_day_row(account) -> None:
    day = D(2026, 3, 10)

    services.consumption_record(
        account=account, origin="file", bytes_before=100, bytes_after=40, optimized_files=3, day=day
    )
    services.consumption_record(
        account=account, origin="file", bytes_before=10, bytes_after=5, optimized_files=2, day=day
    )
    services.consumption_record(account=account, origin="file", bytes_before=1, bytes_after=1, day=day)

    row = ConsumptionDay.objects.get(account=account)
    assert (row.files, row.optimized_files, row.bytes_before, row.bytes_after) == (3, 5, 111, 46)


def test_image_counts_sum_the_account_and_its_sub_accounts_all_time(account) -> None:
    sub = AccountFactory.create(parent=account)
    other_sub = AccountFactory.create(parent=account)
    stranger = AccountFactory.create()
    stranger_sub = AccountFactory.create(parent=stranger)
    record = services.consumption_record
    record(
        account=account, origin="file", bytes_before=1, bytes_after=1, optimized_files=3, day=D(2026, 3, 10)
    )
    record(
        account=account, origin="api", bytes_before=1, bytes_after=1, optimized_files=1, day=D(2026, 3, 10)
    )
    record(
        account=account, origin="file", bytes_before=1, bytes_after=1, optimized_files=2, day=D(2019, 1, 1)
    )
    record(account=sub, origin="file", bytes_before=1, bytes_after=1, optimized_files=5, day=D(2026, 3, 10))
    record(account=other_sub, origin="wp", bytes_before=1, bytes_after=1, day=D(2030, 1, 1))  # none completed
    record(account=stranger, origin="file", bytes_before=1, bytes_after=1, optimized_files=7)
    record(account=stranger_sub, origin="file", bytes_before=1, bytes_after=1, optimized_files=9)

    assert image_counts(account=account) == ImageCounts(original_images=5, optimized_images=11)
    assert image_counts(account=sub) == ImageCounts(original_images=1, optimized_images=5)  # not the parent's
    assert image_counts(account=stranger) == ImageCounts(original_images=2, optimized_images=16)


def test_image_counts_without_a_ledger_are_zero(account) -> None:
    assert image_counts(account=account) == ImageCounts(original_images=0, optimized_images=0)


def test_image_counts_are_one_query(account, django_assert_num_queries) -> None:
    AccountFactory.create(parent=account)
    with django_assert_num_queries(1):
        image_counts(account=account)
