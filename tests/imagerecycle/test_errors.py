"""Every error path of the ImageRecycle surface: `{"errCode", "errMessage"}` with the right status."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from accounts import services
from accounts.models import Account
from tests.compression.pipeline_support import jpeg
from tests.factories import AccountFactory
from tests.imagerecycle.conftest import BASE, ImageRecycleClient, client_for

pytestmark = pytest.mark.django_db


def assert_error(response: Any, status: int) -> str:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["errCode"] == status
    assert isinstance(body["errMessage"], str) and body["errMessage"]
    return body["errMessage"]


def upload(client: ImageRecycleClient, data: bytes, name: str = "photo.jpg", **fields: Any) -> Any:
    return client.post("images", {"file": SimpleUploadedFile(name, data), **fields}, multipart=True)


def test_missing_auth_is_401() -> None:
    for response in (APIClient().get(BASE + "accounts/mine"), APIClient().post(BASE + "images", {})):
        assert "auth" in assert_error(response, 401)


@pytest.mark.parametrize(
    "auth", ['{"key": "k", "secret": ', "not json", '["k", "s"]', '{"key": 1, "secret": 2}']
)
def test_malformed_auth_is_400(auth: str) -> None:
    response = APIClient().get(BASE + "accounts/mine", {"auth": auth})

    assert "auth" in assert_error(response, 400)


def test_wrong_secret_is_401(account: Account) -> None:
    key = services.api_key_create(account=account).api_key.key

    response = ImageRecycleClient(key, "wrong-secret").get("accounts/mine")

    assert assert_error(response, 401) == "Invalid key or secret"


def test_unknown_key_is_401() -> None:
    assert_error(ImageRecycleClient("0" * 32, "secret").get("images"), 401)


def test_bearer_token_does_not_work_here(account: Account, api: APIClient) -> None:
    assert api.get("/v1/shop").status_code == 200

    assert_error(api.get(BASE + "accounts/mine"), 401)


def test_key_and_secret_do_not_work_on_v1(ir: ImageRecycleClient) -> None:
    response = APIClient().get("/v1/shop", {"auth": ir.auth})

    assert response.status_code == 401
    assert "message" in response.json()


def test_disabled_account_is_403(account: Account, ir: ImageRecycleClient) -> None:
    services.account_deactivate(account=account)

    assert_error(ir.get("accounts/mine"), 403)


def test_another_accounts_image_is_404(ir: ImageRecycleClient) -> None:
    other = client_for(AccountFactory.create())
    foreign = upload(other, jpeg()).json()["id"]

    assert_error(ir.get(f"images/{foreign}"), 404)
    assert_error(ir.delete(f"images/{foreign}"), 404)
    assert other.get(f"images/{foreign}").status_code == 200


def test_zip_with_a_foreign_or_unknown_id_is_404(ir: ImageRecycleClient) -> None:
    mine = upload(ir, jpeg()).json()["id"]
    foreign = upload(client_for(AccountFactory.create()), jpeg()).json()["id"]

    assert_error(ir.get(f"images/zip/optimized/{mine},{foreign}"), 404)
    assert_error(ir.get(f"images/zip/original/{mine},{foreign + 1000}"), 404)
    assert ir.get(f"images/zip/original/{mine}").status_code == 200


@pytest.mark.parametrize("ids", ["a,b", ",", ",".join(str(n) for n in range(1, 102))])
def test_zip_with_a_malformed_or_too_long_id_list_is_400(ir: ImageRecycleClient, ids: str) -> None:
    assert_error(ir.get(f"images/zip/optimized/{ids}"), 400)


def test_zip_needs_auth_and_a_known_type(ir: ImageRecycleClient) -> None:
    mine = upload(ir, jpeg()).json()["id"]

    assert_error(APIClient().get(f"{BASE}images/zip/optimized/{mine}"), 401)
    assert_error(ir.get(f"images/zip/resized/{mine}"), 404)


def test_download_of_an_unknown_token_or_type_is_a_json_404(ir: ImageRecycleClient) -> None:
    link = upload(ir, jpeg()).json()["optimized_url"].removeprefix("http://testserver")
    token = link.split("/")[-2]

    assert_error(APIClient().get(f"{BASE}images/optimized/{'x' * 32}/photo.jpg"), 404)
    assert_error(APIClient().get(f"{BASE}images/thumbnail/{token}/photo.jpg"), 404)
    assert APIClient().get(link).status_code == 200


def test_quota_exhausted_is_403(account: Account, ir: ImageRecycleClient) -> None:
    photo = jpeg()
    account.plan_bytes = len(photo) + len(photo) // 2
    account.save()
    assert upload(ir, photo).status_code == 201

    message = assert_error(upload(ir, photo), 403)

    assert "allowance" in message
    assert ir.get("images").json()["total"] == 1


def test_sub_account_quota_exhausted_is_403(ir: ImageRecycleClient) -> None:
    photo = jpeg()
    sub = ir.post("accounts/sub", {"title": "small", "monthly_quota": len(photo)}).json()
    shop = ImageRecycleClient(sub["api_key"], sub["api_secret"])
    assert upload(shop, photo).status_code == 201

    assert_error(upload(shop, photo), 403)


def test_file_too_large_is_413(account: Account, ir: ImageRecycleClient) -> None:
    photo = jpeg()
    account.file_max_size = len(photo) - 1
    account.save()

    assert_error(upload(ir, photo), 413)


def test_unsupported_file_is_415(ir: ImageRecycleClient) -> None:
    assert_error(upload(ir, b"%PDF-not really\n" + b"x" * 100, "fake.jpg"), 415)


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"params": "{not json"},
        {"params": json.dumps({"compression_type": "extreme"})},
        {"params": json.dumps({"compression_level": 0})},
        {"url": "ftp://example.com/a.png"},
    ],
)
def test_bad_add_queries_are_400(ir: ImageRecycleClient, fields: dict[str, Any]) -> None:
    assert_error(ir.post("images", fields), 400)


def test_file_and_url_together_are_400(ir: ImageRecycleClient) -> None:
    assert_error(upload(ir, jpeg(), url="http://example.com/a.png"), 400)


def test_bad_offset_is_400(ir: ImageRecycleClient) -> None:
    assert_error(ir.get("images", offset=-1), 400)
    assert_error(ir.get("images", limit="many"), 400)


def test_another_parents_sub_account_is_404(ir: ImageRecycleClient) -> None:
    other = client_for(AccountFactory.create())
    foreign = other.post("accounts/sub", {"title": "theirs"}).json()["id"]

    for response in (
        ir.get(f"accounts/sub/{foreign}"),
        ir.put(f"accounts/sub/{foreign}", title="mine now"),
        ir.put(f"accounts/sub/reset_secret/{foreign}"),
        ir.put(f"accounts/sub/reset_quota/{foreign}"),
        ir.delete(f"accounts/sub/{foreign}"),
    ):
        assert_error(response, 404)
    assert other.get(f"accounts/sub/{foreign}").json()["title"] == "theirs"


def test_bad_sub_account_fields_are_400(ir: ImageRecycleClient) -> None:
    assert_error(ir.post("accounts/sub", {"title": "x", "quota": "lots"}), 400)
    assert_error(ir.post("accounts/sub", {"title": "x", "monthly_quota": -1}), 400)


def test_sub_accounts_cannot_have_sub_accounts(ir: ImageRecycleClient) -> None:
    sub = ir.post("accounts/sub", {"title": "child"}).json()

    response = ImageRecycleClient(sub["api_key"], sub["api_secret"]).post(
        "accounts/sub", {"title": "grandchild"}
    )

    assert_error(response, 400)


def test_unknown_route_is_a_json_404(ir: ImageRecycleClient) -> None:
    assert_error(ir.get("nothing/here"), 404)
