"""Accounts endpoints of the ImageRecycle surface, and where the `auth` parameter may travel."""

from __future__ import annotations

import datetime
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from accounts import services
from accounts.models import Account
from tests.compression.pipeline_support import jpeg
from tests.imagerecycle.conftest import BASE, ImageRecycleClient

pytestmark = pytest.mark.django_db


def test_auth_in_a_json_body(ir: ImageRecycleClient) -> None:
    response = APIClient().post(
        BASE + "accounts/sub", {"auth": json.loads(ir.auth), "title": "json"}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["title"] == "json"


def test_auth_as_a_json_string_in_a_json_body(ir: ImageRecycleClient) -> None:
    response = APIClient().post(BASE + "accounts/sub", {"auth": ir.auth, "title": "s"}, format="json")

    assert response.status_code == 201


def test_auth_in_a_multipart_body_with_a_file(ir: ImageRecycleClient) -> None:
    response = APIClient().post(
        BASE + "images/",
        {"auth": ir.auth, "file": SimpleUploadedFile("a.jpg", jpeg())},
        format="multipart",
    )

    assert response.status_code == 201


def test_auth_and_fields_in_a_form_body_on_put(ir: ImageRecycleClient) -> None:
    sub = ir.post("accounts/sub", {"title": "before"}).json()

    response = APIClient().put(
        f"{BASE}accounts/sub/{sub['id']}",
        f"auth={ir.auth}&title=after",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 200
    assert response.json()["title"] == "after"


@pytest.mark.parametrize("path", ["accounts/mine", "accounts/mine/", "images", "images/", "accounts/sub/"])
def test_routes_match_with_and_without_trailing_slash(ir: ImageRecycleClient, path: str) -> None:
    assert ir.get(path).status_code == 200


def test_json_content_type_on_a_get_without_body_is_harmless(ir: ImageRecycleClient) -> None:
    response = APIClient().get(BASE + "accounts/mine", {"auth": ir.auth}, content_type="application/json")

    assert response.status_code == 200


def test_mine_shows_this_months_window_and_usage(account: Account, ir: ImageRecycleClient) -> None:
    photo = jpeg()
    ir.post("images", {"file": SimpleUploadedFile("a.jpg", photo)}, multipart=True)

    mine = ir.get("accounts/mine").json()

    today = datetime.datetime.now(datetime.UTC).date()
    # Unix timestamps of noon UTC, as the plugins print them with PHP's date()
    start = datetime.datetime.fromtimestamp(mine["quota_start"], datetime.UTC)
    end = datetime.datetime.fromtimestamp(mine["quota_end"], datetime.UTC)
    assert (start.date(), start.hour) == (today.replace(day=1), 12)
    assert (end.month, end.hour) == (today.month, 12)
    assert (end.date() + datetime.timedelta(days=1)).day == 1
    assert mine["quota_current"] == len(photo)
    assert mine["quota_allowed"] == account.plan_bytes
    assert mine["file_max_size"] == account.file_max_size


@pytest.mark.parametrize("field", ["quota", "monthly_quota"])
def test_create_and_edit_accept_quota_and_monthly_quota(ir: ImageRecycleClient, field: str) -> None:
    created = ir.post("accounts/sub", {"title": "t", field: '"524288000"'})
    assert created.status_code == 201
    assert created.json()["quota_allowed"] == 524288000

    edited = ir.put(f"accounts/sub/{created.json()['id']}", **{field: 1000})

    assert edited.status_code == 200
    assert edited.json()["quota_allowed"] == 1000
    assert edited.json()["title"] == "t"


def test_sub_account_without_quota_shows_its_parents_allowance(
    account: Account, ir: ImageRecycleClient
) -> None:
    sub = ir.post("accounts/sub", {"title": "unbounded"}).json()

    assert sub["quota_allowed"] == account.plan_bytes


def test_secret_is_shown_only_on_create_and_reset(ir: ImageRecycleClient) -> None:
    sub = ir.post("accounts/sub", {"title": "t", "description": "d"}).json()

    listed = ir.get("accounts/sub").json()["items"]
    got = ir.get(f"accounts/sub/{sub['id']}").json()

    assert sub["api_secret"]
    assert [item["id"] for item in listed] == [sub["id"]]
    assert listed[0] == got
    assert got["api_secret"] is None
    assert got["api_key"] == sub["api_key"]
    assert set(got) >= {
        "id", "title", "description", "quota_start", "quota_end", "quota_allowed", "quota_current",
        "file_max_size", "api_key", "api_secret",
    }  # fmt: skip


def test_delete_revokes_credentials_and_keeps_images(ir: ImageRecycleClient) -> None:
    sub = ir.post("accounts/sub", {"title": "gone"}).json()
    shop = ImageRecycleClient(sub["api_key"], sub["api_secret"])
    image = shop.post("images", {"file": SimpleUploadedFile("a.jpg", jpeg())}, multipart=True).json()
    sub_account = Account.objects.get(pk=sub["id"])
    token = services.api_token_create(account=sub_account).raw

    deleted = ir.delete(f"accounts/sub/{sub['id']}")

    assert deleted.status_code == 200
    assert deleted.json() == {"Success": True}
    assert shop.get("accounts/mine").status_code == 401
    bearer = APIClient()
    bearer.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert bearer.get("/v1/shop").status_code in (401, 403)
    assert ir.get("accounts/sub").json()["items"] == []
    assert ir.get(f"accounts/sub/{sub['id']}").status_code == 404
    assert sub_account.original_images.filter(pk=image["id"]).exists()


def test_consumption_lists_30_days_and_12_months_with_zeros(account: Account, ir: ImageRecycleClient) -> None:
    today = datetime.datetime.now(datetime.UTC).date()
    ten_days_ago = today - datetime.timedelta(days=10)
    long_ago = today - datetime.timedelta(days=200)
    sub = services.account_create(login="sub-consumption", parent=account)
    services.consumption_record(
        account=account, origin="file", bytes_before=100, bytes_after=60, day=ten_days_ago
    )
    services.consumption_record(account=sub, origin="url", bytes_before=50, bytes_after=20, day=ten_days_ago)
    services.consumption_record(account=account, origin="file", bytes_before=7, bytes_after=5, day=long_ago)
    services.consumption_record(
        account=account,
        origin="file",
        bytes_before=999,
        bytes_after=1,
        day=today - datetime.timedelta(days=400),
    )

    body = ir.get("accounts/mine/consumption").json()
    consumption = body["consumption"]

    # the documentation's second shape, in the same body: the last 30 days as {date, consumption}
    assert [(day["date"], day["consumption"]) for day in body["consumptions"]] == [
        (day["date"], day["total_size_before"]) for day in consumption["last_days"]
    ]
    assert {day["date"]: day["consumption"] for day in body["consumptions"]}[ten_days_ago.isoformat()] == 150
    days = consumption["last_days"]
    assert [day["date"] for day in days] == [
        (today - datetime.timedelta(days=back)).isoformat() for back in range(29, -1, -1)
    ]
    by_date = {day["date"]: day for day in days}
    assert by_date[ten_days_ago.isoformat()] == {
        "date": ten_days_ago.isoformat(),
        "total_size_before": 150,
        "total_size_after": 80,
        "files_count": 2,
    }
    assert sum(day["files_count"] for day in days) == 2
    months = consumption["last_months"]
    assert months[-1]["date"] == today.replace(day=1).isoformat()
    assert len({month["date"] for month in months}) == 12
    assert sum(month["total_size_before"] for month in months) == 157
    assert {month["date"]: month["files_count"] for month in months}[long_ago.replace(day=1).isoformat()] == 1
