"""Callback URLs: the receivers an account registers, each with its own signing secret."""

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from crush.lib import netguard
from crush.lib.errors import ValidationFailed
from webhooks import signing
from webhooks.models import CallbackUrl, Delivery, DeliveryStatus

logger = logging.getLogger(__name__)

MAX_CALLBACK_URLS_PER_ACCOUNT = 20  # every event is POSTed to each: bounds the fan-out of one account


def callback_url_create(*, account: Account, url: str, field: str = "url") -> CallbackUrl:
    """Validates `url` with the outbound guard (scheme, host, resolved addresses); gives it a fresh secret.
    `field`: the input field the 422 names."""
    url = callback_url_check(url=url, field=field)
    if (
        CallbackUrl.objects.filter(account=account, image_id__isnull=True).count()
        >= MAX_CALLBACK_URLS_PER_ACCOUNT
    ):
        raise ValidationFailed(
            {field: [f"An account may have at most {MAX_CALLBACK_URLS_PER_ACCOUNT} callback URLs"]}
        )
    callback_url = CallbackUrl.objects.create(account=account, url=url, secret=signing.secret_generate())
    logger.info("callback URL %s created for account %s", callback_url.id, account.id)
    return callback_url


def callback_url_check(*, url: str, field: str) -> str:
    """`url` stripped, once the outbound guard accepts it (scheme, host, resolved addresses); else a 422 on
    `field`."""
    url = url.strip()
    try:
        netguard.check_url(url, allow_private=settings.CRUSH_ALLOW_PRIVATE_URLS)
    except (netguard.UrlRefused, netguard.NetworkError) as exc:
        raise ValidationFailed({field: [str(exc.message)]}) from None
    return url


def image_callback_url_create(*, account: Account, url: str, image_id: int) -> CallbackUrl:
    """A one-job receiver: only the end of original image `image_id` is POSTed there (Kraken's per-request
    `callback_url`), signed and retried like any delivery. Written in the submit's transaction, so it exists
    before the job can end; `url` was checked (`callback_url_check`) before that transaction."""
    callback_url = CallbackUrl.objects.create(
        account=account, url=url, secret=signing.secret_generate(), image_id=image_id
    )
    logger.info("callback URL %s created for image %s of account %s", callback_url.id, image_id, account.id)
    return callback_url


def callback_url_add(*, account: Account, url: str, field: str = "callback_url") -> tuple[CallbackUrl, bool]:
    """The account's callback URL at `url` and whether it was created now: one is created, as by
    `callback_url_create`, only when the account has none at that address (the original service's
    `PATCH /v1/shop {"callback_url"}`, and `POST /v1/callback_urls`, which the Crush.pics plugin repeats on
    every settings check). Its errors name `field`."""
    url = url.strip()
    existing = CallbackUrl.objects.filter(account=account, url=url, image_id__isnull=True).first()
    if existing is not None:
        return existing, False
    return callback_url_create(account=account, url=url, field=field), True


@transaction.atomic
def callback_url_delete(*, callback_url: CallbackUrl) -> None:
    _pending_deliveries_fail(callback_url_id=callback_url.id, reason="callback URL deleted")
    logger.info("callback URL %s of account %s deleted", callback_url.id, callback_url.account_id)
    callback_url.delete()


@transaction.atomic
def callback_url_disable(*, callback_url_id: int, reason: str) -> None:
    """Stops every delivery to the URL until an operator re-enables it."""
    disabled = CallbackUrl.objects.filter(pk=callback_url_id, is_active=True).update(
        is_active=False, disabled_at=timezone.now(), disabled_reason=reason[:200]
    )
    _pending_deliveries_fail(callback_url_id=callback_url_id, reason="callback URL disabled")
    if disabled:
        logger.warning("callback URL %s disabled: %s", callback_url_id, reason)


def callback_url_enable(*, callback_url: CallbackUrl) -> None:
    CallbackUrl.objects.filter(pk=callback_url.pk).update(
        is_active=True, disabled_at=None, disabled_reason="", failing_since=None
    )
    logger.info("callback URL %s re-enabled", callback_url.pk)


def _pending_deliveries_fail(*, callback_url_id: int, reason: str) -> None:
    Delivery.objects.filter(callback_url_id=callback_url_id, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.FAILED,
        next_attempt_at=None,
        queued_for=None,
        last_error=reason,
        updated_at=timezone.now(),
    )
