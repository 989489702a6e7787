import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from accounts.models import ConsumptionDay
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


def test_account_page_shows_the_six_month_consumption_chart(admin_client, account) -> None:
    today = timezone.now().date()
    sub = AccountFactory.create(parent=account)
    ConsumptionDay.objects.create(account=account, day=today, origin="file", bytes_before=2048)
    ConsumptionDay.objects.create(account=sub, day=today, origin="<script>alert(1)</script>", bytes_before=10)

    response = admin_client.get(f"/admin/accounts/account/{account.pk}/change/")

    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="crush-consumption"' in page
    assert "<svg" in page
    assert f"{today:%Y-%m} · file: 2.0\xa0KB" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page


def test_account_page_of_an_account_without_consumption_says_so(admin_client, account) -> None:
    response = admin_client.get(f"/admin/accounts/account/{account.pk}/change/")

    assert "No consumption" in response.content.decode()


@pytest.mark.parametrize("staff", [False, None])
def test_account_page_refuses_non_staff(client, account, staff) -> None:
    if staff is not None:
        client.force_login(User.objects.create_user("visitor", password="pw-12345678", is_staff=staff))

    response = client.get(f"/admin/accounts/account/{account.pk}/change/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_account_page_of_an_unknown_account_redirects_to_the_list(admin_client, db) -> None:
    response = admin_client.get("/admin/accounts/account/999999/change/")

    assert response.status_code == 302
