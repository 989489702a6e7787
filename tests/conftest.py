"""Shared fixtures. Services come from the environment: CI exports real PostgreSQL, Redis and S3 endpoints and
sets CRUSH_REQUIRE_SERVICES=1, so a missing service fails the run instead of being skipped."""

import os
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.core.cache import cache

from crush.celery import app as celery_app


def pytest_sessionstart(session: pytest.Session) -> None:
    if os.environ.get("CRUSH_REQUIRE_SERVICES") != "1":
        return
    missing = [
        name
        for name, ok in (
            ("PostgreSQL (DATABASE_URL)", settings.DATABASES["default"]["ENGINE"].endswith("postgresql")),
            ("Redis (CELERY_BROKER_URL)", settings.CELERY_BROKER_URL.startswith("redis")),
            ("S3 (AWS_S3_ENDPOINT_URL + AWS_STORAGE_BUCKET_NAME)", bool(settings.AWS_STORAGE_BUCKET_NAME)),
        )
        if not ok
    ]
    if missing:
        raise pytest.UsageError(f"CRUSH_REQUIRE_SERVICES=1 but not configured: {', '.join(missing)}")


@pytest.fixture(scope="session", autouse=True)
def s3_bucket() -> None:
    """Creates the bucket on the S3-protocol server when the run uses one."""
    if not settings.AWS_STORAGE_BUCKET_NAME:
        return
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=settings.AWS_S3_ENDPOINT_URL,
        region_name=settings.AWS_S3_REGION_NAME,
        aws_access_key_id=settings.AWS_ACCESS_KEY_ID,
        aws_secret_access_key=settings.AWS_SECRET_ACCESS_KEY,
    )
    existing = {bucket["Name"] for bucket in client.list_buckets().get("Buckets", [])}
    if settings.AWS_STORAGE_BUCKET_NAME not in existing:
        client.create_bucket(Bucket=settings.AWS_STORAGE_BUCKET_NAME)


@pytest.fixture(autouse=True)
def eager_celery() -> Iterator[None]:
    """Tasks run inline; django_capture_on_commit_callbacks(execute=True) runs what is enqueued on commit."""
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture(autouse=True)
def clear_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def account(db):  # type: ignore[no-untyped-def]
    from tests.factories import AccountFactory

    return AccountFactory()


@pytest.fixture
def token(account) -> str:  # type: ignore[no-untyped-def]
    from accounts.services import api_token_create

    return api_token_create(account=account).raw


@pytest.fixture
def api(token):  # type: ignore[no-untyped-def]
    """A DRF client authenticated with the `account` fixture's Bearer token."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client
