"""Writes for accounts: creation, credentials, quota reservations and the consumption ledger.

A change of what the `subscription_updated` webhook event shows (the plan, the allowance, its use reset, the
next charge) emits that event in the transaction making it, whoever makes it: the admin, the API, a command,
the month's reset.
"""

from __future__ import annotations

import datetime
import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.utils import timezone

from accounts import credentials, presenters, selectors
from accounts.models import Account, ApiKey, ApiToken, ConsumptionDay, QuotaPeriod, month_start
from crush.lib.dbranges import column_range_check
from crush.lib.errors import QuotaExceeded, Unauthenticated, ValidationFailed
from webhooks.models import CallbackUrl
from webhooks.services import account_event_emit, callback_url_add

LAST_USED_GRANULARITY = datetime.timedelta(minutes=1)  # at most one write per credential a minute
SUBSCRIPTION_UPDATED = "subscription_updated"
# The account fields a subscription_updated event shows (accounts.presenters.subscription_data), usage aside.
SUBSCRIPTION_FIELDS = frozenset(
    {"login", "plan_code", "plan_name", "plan_price", "plan_bytes", "next_charge_at"}
)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: ApiToken
    raw: str  # shown once, never stored


@dataclass(frozen=True, slots=True)
class IssuedKey:
    api_key: ApiKey
    secret: str  # shown once, never stored


# --- accounts


@transaction.atomic
def account_create(
    *,
    login: str,
    email: str = "",
    parent: Account | None = None,
    plan_bytes: int | None = None,
    file_max_size: int | None = None,
    title: str = "",
    description: str = "",
) -> Account:
    if Account.objects.filter(login=login).exists():
        raise ValidationFailed({"login": ["An account with this login already exists."]})
    column_range_check(Account, {"plan_bytes": plan_bytes, "file_max_size": file_max_size})
    account = Account(
        login=login,
        email=email,
        parent=parent,
        title=title,
        description=description,
        plan_bytes=plan_bytes if plan_bytes is not None else settings.CRUSH_DEFAULT_PLAN_BYTES,
        file_max_size=file_max_size
        or (parent.file_max_size if parent else settings.CRUSH_DEFAULT_FILE_MAX_SIZE_BYTES),
    )
    if parent is not None:
        account.compression_type = parent.compression_type
        account.compression_level_jpg = parent.compression_level_jpg
        account.compression_level_png = parent.compression_level_png
        account.compression_level_gif = parent.compression_level_gif
        account.quality_target = parent.quality_target
    account.full_clean()
    account.save()
    return account


@transaction.atomic
def account_update(*, account: Account, **fields: Any) -> Account:
    """Saves `fields` (`account` may already carry them, as the admin's form leaves it); when that changes
    what a subscription_updated event shows, emits one."""
    column_range_check(Account, fields)  # a 4xx naming the field, not the database's out-of-range error
    shown_before = None
    if not SUBSCRIPTION_FIELDS.isdisjoint(fields):
        shown_before = _subscription_shown(Account.objects.select_for_update().get(pk=account.pk))
    for name, value in fields.items():
        setattr(account, name, value)
    account.save(update_fields=[*fields, "updated_at"])
    if shown_before is not None and _subscription_shown(account) != shown_before:
        _subscription_updated_emit(account=account)
    return account


@dataclass(frozen=True, slots=True)
class ShopUpdate:
    account: Account
    callback_url_created: CallbackUrl | None  # its secret is shown once, in the answer of this update


@transaction.atomic
def shop_update(*, account: Account, callback_url: str | None = None, **fields: Any) -> ShopUpdate:
    """`PATCH /v1/shop`: the settings in `fields`, and `callback_url` added to the account's callback URLs
    unless it has it already. Nothing is saved when the URL is refused (422 naming `callback_url`)."""
    created = None
    if callback_url is not None:
        Account.objects.select_for_update().get(pk=account.pk)  # one add at a time per account
        url, is_new = callback_url_add(account=account, url=callback_url)
        created = url if is_new else None
    return ShopUpdate(account=account_update(account=account, **fields), callback_url_created=created)


def account_deactivate(*, account: Account) -> None:
    Account.objects.filter(pk=account.pk).update(is_active=False, updated_at=timezone.now())


# --- credentials


def api_token_create(*, account: Account, name: str = "") -> IssuedToken:
    raw = credentials.new_token()
    token = ApiToken.objects.create(
        account=account, name=name, prefix=credentials.visible_prefix(raw), token_hash=credentials.digest(raw)
    )
    return IssuedToken(token=token, raw=raw)


@transaction.atomic
def api_token_rotate(*, account: Account) -> IssuedToken:
    """Revokes every live token of the account and issues a new one."""
    api_tokens_revoke(account=account)
    return api_token_create(account=account, name="rotated")


def api_tokens_revoke(*, account: Account) -> int:
    return ApiToken.objects.filter(account=account, revoked_at__isnull=True).update(revoked_at=timezone.now())


def api_token_revoke(*, token: ApiToken) -> bool:
    """Revokes one token; False when it already was."""
    return bool(
        ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    )


def api_token_authenticate(*, raw_token: str) -> ApiToken:
    token = (
        ApiToken.objects.select_related("account", "account__parent")
        .filter(token_hash=credentials.digest(raw_token), revoked_at__isnull=True)
        .first()
    )
    if token is None or not credentials.matches(raw_token, token.token_hash):
        raise Unauthenticated("Invalid or revoked token")
    _touch(ApiToken, token.pk)
    return token


def api_key_create(*, account: Account) -> IssuedKey:
    secret = credentials.new_secret()
    api_key = ApiKey.objects.create(
        account=account, key=credentials.new_key(), secret_hash=credentials.digest(secret)
    )
    return IssuedKey(api_key=api_key, secret=secret)


@transaction.atomic
def api_key_reset_secret(*, account: Account) -> IssuedKey:
    """Gives the live key a new secret (or creates a key if there is none); the old secret stops working."""
    api_key = ApiKey.objects.select_for_update().filter(account=account, revoked_at__isnull=True).first()
    if api_key is None:
        return api_key_create(account=account)
    secret = credentials.new_secret()
    api_key.secret_hash = credentials.digest(secret)
    api_key.save(update_fields=["secret_hash"])
    return IssuedKey(api_key=api_key, secret=secret)


def api_keys_revoke(*, account: Account) -> int:
    return ApiKey.objects.filter(account=account, revoked_at__isnull=True).update(revoked_at=timezone.now())


def api_key_revoke(*, api_key: ApiKey) -> bool:
    """Revokes one key/secret pair; False when it already was."""
    return bool(
        ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    )


def api_key_authenticate(*, key: str, secret: str) -> ApiKey:
    api_key = (
        ApiKey.objects.select_related("account", "account__parent")
        .filter(key=key, revoked_at__isnull=True)
        .first()
    )
    # Compare against a dummy digest when the key is unknown so both paths cost the same.
    stored = api_key.secret_hash if api_key else credentials.digest("unknown-key")
    if not credentials.matches(secret, stored) or api_key is None:
        raise Unauthenticated("Invalid key or secret")
    _touch(ApiKey, api_key.pk)
    return api_key


def _touch(model: type[ApiToken] | type[ApiKey], pk: int) -> None:
    now = timezone.now()
    model.objects.filter(pk=pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_GRANULARITY)
    ).update(last_used_at=now)


# --- quota: reserve at accept, commit when compressed, release when refused


def _chain(account: Account) -> list[Account]:
    """The account and its parent, parent first: every reservation locks rows in this order (no deadlock)."""
    return [account.parent, account] if account.parent_id else [account]  # type: ignore[list-item]


def _period_open(account: Account, month: datetime.date) -> bool:
    """Makes sure the counter row of `month` exists; True when this call created it. Opening a month resets
    the usage shown, so whoever opens it first (the month's first upload, or quota_months_open) announces the
    reset when the account used some of the month before; parallel openers are harmless (get_or_create: one
    creates, the others read)."""
    _, created = QuotaPeriod.objects.get_or_create(account=account, month=month)
    if created and selectors.quota_used_month_before(account=account, month=month) > 0:
        _subscription_updated_emit(account=account)
    return created


def quota_months_open() -> int:
    """Opens this month's quota period of each active account that used some of last month's allowance and
    has not uploaded yet this month, announcing the reset (beat, hourly: a missed run is caught up by the
    next); returns how many it opened."""
    month = month_start()
    opened = 0
    for account_id in selectors.account_ids_with_month_unopened(month=month):
        with transaction.atomic():
            opened += _period_open(Account.objects.get(pk=account_id), month)
    return opened


def _check_size(size_bytes: int) -> None:
    if size_bytes < 0:
        raise ValueError(f"size_bytes must not be negative, got {size_bytes}")


@transaction.atomic
def quota_reserve(*, account: Account, size_bytes: int) -> datetime.date:
    """Counts `size_bytes` against this month's allowance of the account and its parent, else QuotaExceeded.

    Each counter moves by one conditional UPDATE, so concurrent uploads never overspend. Returns the month
    the bytes were counted in (pass it to quota_release).
    """
    _check_size(size_bytes)
    month = month_start()
    for holder in _chain(account):
        _period_open(holder, month)
        periods = QuotaPeriod.objects.filter(account=holder, month=month)
        if holder.plan_bytes is not None:
            periods = periods.filter(used_bytes__lte=holder.plan_bytes - size_bytes)
        if periods.update(used_bytes=F("used_bytes") + size_bytes) != 1:
            raise QuotaExceeded()
    return month


@transaction.atomic
def quota_release(*, account: Account, size_bytes: int, month: datetime.date) -> None:
    """Gives back what quota_reserve counted in `month`; never below zero (a reset may have happened)."""
    _check_size(size_bytes)
    for holder in _chain(account):
        QuotaPeriod.objects.filter(account=holder, month=month).update(
            used_bytes=Greatest(F("used_bytes") - size_bytes, 0)
        )


@transaction.atomic
def quota_reset(*, account: Account) -> None:
    """Sets this month's usage of the account to zero (its parent keeps counting what it used)."""
    if QuotaPeriod.objects.filter(account=account, month=month_start(), used_bytes__gt=0).update(
        used_bytes=0
    ):
        _subscription_updated_emit(account=account)


def consumption_record(
    *,
    account: Account,
    origin: str,
    bytes_before: int,
    bytes_after: int,
    optimized_files: int = 0,
    files: int = 1,
    day: datetime.date | None = None,
) -> None:
    """Adds `files` compressed originals (one, or none when only more of its optimized images completed),
    and the `optimized_files` optimized images they completed with, to the ledger row of (account, UTC day,
    origin)."""
    day = day or timezone.now().astimezone(datetime.UTC).date()
    ConsumptionDay.objects.bulk_create(
        [ConsumptionDay(account=account, day=day, origin=origin)], ignore_conflicts=True
    )
    ConsumptionDay.objects.filter(account=account, day=day, origin=origin).update(
        bytes_before=F("bytes_before") + bytes_before,
        bytes_after=F("bytes_after") + bytes_after,
        files=F("files") + files,
        optimized_files=F("optimized_files") + optimized_files,
    )


# --- the subscription_updated webhook event


def _subscription_shown(account: Account) -> dict[str, Any]:
    """What a subscription_updated event shows of the account row: its payload, usage aside."""
    return presenters.subscription_data(account, quota_usage=0)


def _subscription_updated_emit(*, account: Account) -> None:
    quota_usage = selectors.quota_used_this_month(account=account)
    account_event_emit(
        account=account,
        event=SUBSCRIPTION_UPDATED,
        payload=presenters.subscription_data(account, quota_usage=quota_usage),
    )


# --- sub-accounts (the ImageRecycle surface's accounts/sub endpoints)

SUB_ACCOUNT_LOGIN_RANDOM_BYTES = 6


@transaction.atomic
def sub_account_create(
    *, parent: Account, title: str = "", description: str = "", quota_bytes: int | None = None
) -> tuple[Account, IssuedKey]:
    """A sub-account of `parent` with its first key/secret pair. `quota_bytes` None: no allowance of its
    own (it is still bounded by its parent's)."""
    if parent.parent_id is not None:
        raise ValidationFailed({"parent": ["A sub-account cannot have sub-accounts."]})
    login = f"{parent.login[:40]}.sub-{secrets.token_hex(SUB_ACCOUNT_LOGIN_RANDOM_BYTES)}"
    sub_account = account_create(
        login=login,
        parent=parent,
        title=title,
        description=description,
        file_max_size=parent.file_max_size,
    )
    account_update(account=sub_account, plan_bytes=quota_bytes)
    return sub_account, api_key_create(account=sub_account)


_NOT_GIVEN: Any = object()


def sub_account_update(
    *,
    sub_account: Account,
    title: str = _NOT_GIVEN,
    description: str = _NOT_GIVEN,
    quota_bytes: int | None = _NOT_GIVEN,
) -> Account:
    """Changes only the fields given; `quota_bytes=None` removes the sub-account's own allowance."""
    fields = {
        name: value
        for name, value in (("title", title), ("description", description), ("plan_bytes", quota_bytes))
        if value is not _NOT_GIVEN
    }
    if not fields:
        return sub_account
    return account_update(account=sub_account, **fields)


@transaction.atomic
def sub_account_delete(*, sub_account: Account) -> None:
    """Deactivates the sub-account and revokes its credentials; its images stay (owned by it) until purged."""
    account_deactivate(account=sub_account)
    api_keys_revoke(account=sub_account)
    api_tokens_revoke(account=sub_account)
