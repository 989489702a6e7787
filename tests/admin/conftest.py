import datetime

import pytest
from django.utils import timezone

from compression.models import OptimizedImage, OriginalImage, Status
from webhooks.models import CallbackUrl, Delivery, DeliveryStatus, WebhookEvent


@pytest.fixture
def make_originals():
    """make_originals(account, count, status=…, created_at=…) → bulk-created originals, one optimized each."""

    def make(account, count: int, status: str = Status.COMPLETED, created_at=None) -> list[OriginalImage]:
        expire_at = timezone.now() + datetime.timedelta(days=30)
        originals = OriginalImage.objects.bulk_create(
            OriginalImage(
                account=account,
                status=status,
                compression_type="balanced",
                origin="file",
                base_url="https://testserver",
                filename=f"photo-{index}.jpg",
                expire_at=expire_at,
            )
            for index in range(count)
        )
        if created_at is not None:
            OriginalImage.objects.filter(pk__in=[o.pk for o in originals]).update(created_at=created_at)
        OptimizedImage.objects.bulk_create(
            OptimizedImage(original=o, style="original", compression_type="balanced", expire_at=expire_at)
            for o in originals
        )
        return originals

    return make


@pytest.fixture
def make_deliveries():
    """make_deliveries(account, count, status=…, attempts=…) → one event and one delivery each."""

    def make(
        account, count: int, status: str = DeliveryStatus.DELIVERED, attempts: int = 1
    ) -> list[Delivery]:
        now = timezone.now()
        url = CallbackUrl.objects.create(account=account, url="https://hooks.example/in", secret="whsec_x")
        events = WebhookEvent.objects.bulk_create(
            WebhookEvent(
                public_id=f"evt_{account.pk}_{status}_{index}_{now.timestamp()}",
                account=account,
                event_type="optimized",
                image_id=index,
                body="{}",
                created_at=now,
            )
            for index in range(count)
        )
        return Delivery.objects.bulk_create(
            Delivery(
                event=event,
                callback_url=url,
                status=status,
                attempts=attempts,
                next_attempt_at=now if status == DeliveryStatus.PENDING else None,
            )
            for event in events
        )

    return make
