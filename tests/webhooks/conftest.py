"""Webhook fixtures: loopback receivers and a way to end an original the way the pipeline does."""

from collections.abc import Callable

import pytest
from pytest_httpserver import HTTPServer

from accounts.models import Account
from webhooks import services
from webhooks.models import CallbackUrl, WebhookEvent


def sample_payload(*, account: Account, image_id: int = 5) -> dict:
    return {
        "shop_identifier": account.login,
        "quota_usage": 3600688,
        "image_id": image_id,
        "original_image": {"id": image_id, "status": "completed", "filename": "photo.jpg"},
        "optimized_images": [
            {"id": 6698, "style": "original", "status": "completed", "size": 40484, "link": "http://x/f/a.jpg"}
        ],
    }


@pytest.fixture
def callback_url_for(db) -> Callable[..., CallbackUrl]:  # type: ignore[no-untyped-def]
    def create(account: Account, url: str) -> CallbackUrl:
        return services.callback_url_create(account=account, url=url)

    return create


@pytest.fixture
def emit(django_capture_on_commit_callbacks) -> Callable[..., WebhookEvent | None]:  # type: ignore[no-untyped-def]
    """Emits an `optimized` (or given) event and runs what it enqueued, as the pipeline's commit would."""

    def run(account: Account, *, event: str = "optimized", image_id: int = 5) -> WebhookEvent | None:
        with django_capture_on_commit_callbacks(execute=True):
            return services.original_image_event_emit(
                account=account,
                event=event,
                original_image_id=image_id,
                payload=sample_payload(account=account, image_id=image_id),
            )

    return run


@pytest.fixture
def receiver(httpserver: HTTPServer) -> HTTPServer:
    return httpserver
