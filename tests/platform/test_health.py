import pytest
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db


def test_health_live_answers_ok() -> None:
    response = Client().get("/health/live")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_health_ready_checks_database_broker_and_storage() -> None:
    response = Client().get("/health/ready/")

    assert response.status_code == 200
    assert response.json()["checks"] == ["database", "broker", "storage"]


@override_settings(CELERY_BROKER_URL="redis://127.0.0.1:1/0", CELERY_BROKER_TRANSPORT_OPTIONS={})
def test_health_ready_names_the_broker_when_it_is_down() -> None:
    response = Client().get("/health/ready")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "failing": ["broker"]}
