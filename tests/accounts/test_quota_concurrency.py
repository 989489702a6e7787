"""Parallel reservations against PostgreSQL: the allowance of an account and of its parent is never overspent.

Runs in CI (CRUSH_REQUIRE_SERVICES=1, PostgreSQL); on the embedded SQLite default it is skipped, since SQLite
serialises writers and would prove nothing.
"""

import datetime
import os
import threading
from collections import Counter

import pytest
from django.db import connection, connections

from accounts import selectors, services
from accounts.models import Account, QuotaPeriod, month_start
from crush.lib.errors import QuotaExceeded
from tests.factories import AccountFactory
from webhooks.models import CallbackUrl, WebhookEvent

ON_POSTGRESQL = connection.vendor == "postgresql"
pytestmark = [
    pytest.mark.skipif(
        not ON_POSTGRESQL and os.environ.get("CRUSH_REQUIRE_SERVICES") != "1",
        reason="needs PostgreSQL (DATABASE_URL); CI runs it",
    ),
    pytest.mark.django_db(transaction=True),
]

SIZE_BYTES = 100
BARRIER_TIMEOUT_SECONDS = 60  # a start line for the threads, not a timing assertion


def reserve_in_parallel(accounts: list[Account], size_bytes: int) -> list[tuple[int, str]]:
    """One thread per entry, each with its own database connection, all released at once."""
    barrier = threading.Barrier(len(accounts))
    outcomes: list[tuple[int, str]] = []
    lock = threading.Lock()

    def reserve(account: Account) -> None:
        try:
            barrier.wait(timeout=BARRIER_TIMEOUT_SECONDS)
            try:
                services.quota_reserve(account=account, size_bytes=size_bytes)
                outcome = "accepted"
            except QuotaExceeded:
                outcome = "refused"
            except Exception as error:
                outcome = f"error: {error!r}"
            with lock:
                outcomes.append((account.pk, outcome))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=reserve, args=(account,)) for account in accounts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_quota_reserve_in_parallel_never_overspends_account_or_parent() -> None:
    assert ON_POSTGRESQL, "CRUSH_REQUIRE_SERVICES=1 needs DATABASE_URL to point at PostgreSQL"
    parent = AccountFactory.create(plan_bytes=10 * SIZE_BYTES)
    sub = AccountFactory.create(parent=parent, plan_bytes=7 * SIZE_BYTES)
    requests = [sub, parent] * 12  # 24 × 100 bytes asked for, 10 fit the parent, 7 the sub-account

    outcomes = reserve_in_parallel(requests, SIZE_BYTES)

    counts = Counter(outcomes)
    assert [outcome for _, outcome in outcomes if outcome.startswith("error")] == []
    accepted_sub = counts[(sub.pk, "accepted")]
    accepted_parent = counts[(parent.pk, "accepted")]
    sub_used = selectors.quota_used_this_month(account=sub)
    parent_used = selectors.quota_used_this_month(account=parent)
    assert sub_used <= 7 * SIZE_BYTES
    assert parent_used <= 10 * SIZE_BYTES
    assert sub_used == accepted_sub * SIZE_BYTES  # a refusal leaves no trace on either counter
    assert parent_used == (accepted_sub + accepted_parent) * SIZE_BYTES
    assert parent_used == 10 * SIZE_BYTES  # demand exceeded the allowance, so it is filled exactly


def test_quota_reserve_in_parallel_on_one_account_accepts_exactly_what_fits() -> None:
    assert ON_POSTGRESQL, "CRUSH_REQUIRE_SERVICES=1 needs DATABASE_URL to point at PostgreSQL"
    account = AccountFactory.create(plan_bytes=5 * SIZE_BYTES + SIZE_BYTES // 2)

    outcomes = reserve_in_parallel([account] * 16, SIZE_BYTES)

    assert Counter(outcome for _, outcome in outcomes) == {"accepted": 5, "refused": 11}
    assert selectors.quota_used_this_month(account=account) == 5 * SIZE_BYTES


def test_parallel_first_uploads_of_a_month_announce_its_reset_once() -> None:
    assert ON_POSTGRESQL, "CRUSH_REQUIRE_SERVICES=1 needs DATABASE_URL to point at PostgreSQL"
    parent = AccountFactory.create(plan_bytes=None)
    sub = AccountFactory.create(parent=parent, plan_bytes=None)
    last_month = (month_start() - datetime.timedelta(days=1)).replace(day=1)
    for holder in (parent, sub):
        QuotaPeriod.objects.create(account=holder, month=last_month, used_bytes=900)
        CallbackUrl.objects.create(account=holder, url="http://127.0.0.1:9/hook", secret="whsec_dGVzdA==")

    outcomes = reserve_in_parallel([sub, parent] * 8, SIZE_BYTES)

    assert Counter(outcome for _, outcome in outcomes) == {"accepted": 16}
    announced = Counter(
        WebhookEvent.objects.filter(event_type="subscription_updated").values_list("account_id", flat=True)
    )
    assert announced == {parent.pk: 1, sub.pk: 1}
