import pytest
from rest_framework.test import APIClient

from accounts import services
from accounts.models import Account

pytestmark = pytest.mark.django_db


def bearer(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_missing_token_is_a_json_401() -> None:
    response = APIClient().get("/v1/shop")

    assert response.status_code == 401
    assert isinstance(response.json()["message"], str)


@pytest.mark.parametrize(
    "header", ["Bearer crush_not-a-real-token", "Bearer ", "Basic dXNlcjpwYXNz", "crush_x"]
)
def test_wrong_token_is_a_json_401(header: str) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)

    response = client.get("/v1/shop")

    assert response.status_code == 401
    assert isinstance(response.json()["message"], str)


def test_revoked_token_is_a_json_401(account: Account) -> None:
    issued = services.api_token_create(account=account)
    assert bearer(issued.raw).get("/v1/shop").status_code == 200

    services.api_token_revoke(token=issued.token)
    response = bearer(issued.raw).get("/v1/shop")

    assert response.status_code == 401
    assert response.json()["message"] == "Invalid or revoked token"


def test_rotated_token_replaces_the_old_one(account: Account) -> None:
    old = services.api_token_create(account=account).raw

    new = services.api_token_rotate(account=account).raw

    assert bearer(old).get("/v1/shop").status_code == 401
    assert bearer(new).get("/v1/shop").status_code == 200


def test_token_of_a_deactivated_account_is_a_json_403(account: Account, api: APIClient) -> None:
    services.account_deactivate(account=account)

    response = api.get("/v1/shop")

    assert response.status_code == 403
    assert response.json()["message"] == "This account is disabled"


def test_token_of_a_sub_account_whose_parent_is_deactivated_is_a_json_403(account: Account) -> None:
    sub = services.account_create(login="sub-a", parent=account)
    client = bearer(services.api_token_create(account=sub).raw)
    services.account_deactivate(account=account)

    response = client.get("/v1/shop")

    assert response.status_code == 403


def test_successful_call_records_last_used_at(account: Account) -> None:
    issued = services.api_token_create(account=account)

    bearer(issued.raw).get("/v1/shop")

    issued.token.refresh_from_db()
    assert issued.token.last_used_at is not None


def test_rate_limit_answers_429_with_retry_after(api: APIClient, settings) -> None:  # type: ignore[no-untyped-def]
    settings.CRUSH_RATE_LIMIT = "2/min"

    answers = [api.get("/v1/shop") for _ in range(3)]

    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert isinstance(answers[2].json()["message"], str)
    assert 1 <= int(answers[2]["Retry-After"]) <= 60


def test_rate_limit_counts_per_token(account: Account, settings) -> None:  # type: ignore[no-untyped-def]
    settings.CRUSH_RATE_LIMIT = "1/min"
    first = bearer(services.api_token_create(account=account).raw)
    second = bearer(services.api_token_create(account=account).raw)

    assert first.get("/v1/shop").status_code == 200
    assert first.get("/v1/shop").status_code == 429
    assert second.get("/v1/shop").status_code == 200
