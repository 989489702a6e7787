"""Parallel uploads by two sub-accounts never exceed their parent's allowance (real threads, real
transactions; meaningful on PostgreSQL, where the conditional UPDATEs of quota_reserve really race)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, connections

from accounts import services
from accounts.models import QuotaPeriod
from tests.compression.pipeline_support import jpeg
from tests.factories import AccountFactory
from tests.imagerecycle.conftest import ImageRecycleClient, client_for

UPLOADS_PER_SUB_ACCOUNT = 4
ACCEPTED_BY_ALLOWANCE = 3


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL's concurrent transactions")
def test_parallel_uploads_of_two_sub_accounts_never_exceed_the_parents_allowance(
    transactional_db: None,
) -> None:
    photo = jpeg(64, 48)
    parent = AccountFactory.create(plan_bytes=ACCEPTED_BY_ALLOWANCE * len(photo) + len(photo) // 2)
    shops = [
        client_for(services.account_create(login=f"{parent.login}-sub-{index}", parent=parent))
        for index in range(2)
    ]
    start = threading.Barrier(2 * UPLOADS_PER_SUB_ACCOUNT)

    def upload(shop: ImageRecycleClient) -> int:
        try:
            start.wait()
            response = shop.post(
                "images", {"file": SimpleUploadedFile("a.jpg", photo, "image/jpeg")}, multipart=True
            )
            return response.status_code
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2 * UPLOADS_PER_SUB_ACCOUNT) as pool:
        statuses = list(pool.map(upload, shops * UPLOADS_PER_SUB_ACCOUNT))

    assert sorted(statuses) == [201] * ACCEPTED_BY_ALLOWANCE + [403] * (len(statuses) - ACCEPTED_BY_ALLOWANCE)
    used = QuotaPeriod.objects.get(account=parent).used_bytes
    assert parent.plan_bytes is not None
    assert used == ACCEPTED_BY_ALLOWANCE * len(photo) <= parent.plan_bytes
    per_sub = QuotaPeriod.objects.filter(account__parent=parent).values_list("used_bytes", flat=True)
    assert sum(per_sub) == used
