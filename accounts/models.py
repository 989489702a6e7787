from __future__ import annotations

import datetime

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone


class CompressionType(models.TextChoices):
    LOSSY = "lossy"
    LOSSLESS = "lossless"
    BALANCED = "balanced"


LEVEL_VALIDATORS = [MinValueValidator(1), MaxValueValidator(100)]
# The SSIMULACRA2 floor of balanced (the engine's MIN_TARGET..MAX_TARGET; 80 = "very high quality").
QUALITY_TARGET_MIN = 50
QUALITY_TARGET_MAX = 95
QUALITY_TARGET_DEFAULT = 80
QUALITY_TARGET_VALIDATORS = [MinValueValidator(QUALITY_TARGET_MIN), MaxValueValidator(QUALITY_TARGET_MAX)]


class Account(models.Model):
    """A customer (shop) or, with `parent` set, one of its sub-accounts.

    `plan_bytes` is the monthly allowance of original bytes; null means unlimited.
    """

    login = models.CharField(max_length=64, unique=True)
    email = models.EmailField(blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="sub_accounts"
    )
    title = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    plan_code = models.CharField(max_length=32, default="free")
    plan_name = models.CharField(max_length=100, default="Free")
    plan_price = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    plan_bytes = models.BigIntegerField(null=True, blank=True)
    file_max_size = models.BigIntegerField()
    compression_type = models.CharField(
        max_length=16, choices=CompressionType.choices, default=CompressionType.BALANCED
    )
    compression_level_jpg = models.PositiveSmallIntegerField(default=80, validators=LEVEL_VALIDATORS)
    compression_level_png = models.PositiveSmallIntegerField(default=80, validators=LEVEL_VALIDATORS)
    compression_level_gif = models.PositiveSmallIntegerField(default=80, validators=LEVEL_VALIDATORS)
    quality_target = models.PositiveSmallIntegerField(
        default=QUALITY_TARGET_DEFAULT,
        validators=QUALITY_TARGET_VALIDATORS,
        help_text="The SSIMULACRA2 score every balanced output reaches (50-95) unless a request sets its own",
    )
    is_active = models.BooleanField(default=True)
    charged_at = models.DateTimeField(null=True, blank=True)
    next_charge_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(compression_level_jpg__gte=1, compression_level_jpg__lte=100)
                & Q(compression_level_png__gte=1, compression_level_png__lte=100)
                & Q(compression_level_gif__gte=1, compression_level_gif__lte=100),
                name="account_levels_1_100",
            ),
            models.CheckConstraint(condition=Q(file_max_size__gt=0), name="account_file_max_size_positive"),
            models.CheckConstraint(
                condition=Q(quality_target__gte=QUALITY_TARGET_MIN, quality_target__lte=QUALITY_TARGET_MAX),
                name="account_quality_target_50_95",
            ),
        ]

    def __str__(self) -> str:
        return self.login

    # DRF's IsAuthenticated asks this of request.user, which is the Account on our surfaces.
    is_authenticated = True
    is_anonymous = False


class ApiToken(models.Model):
    """Bearer token of the /v1/ surface; only its SHA-256 is stored, `prefix` identifies it to humans."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.account})"


class ApiKey(models.Model):
    """Key/secret pair of the ImageRecycle surface; the key is public, only the secret's SHA-256 is stored."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="api_keys")
    key = models.CharField(max_length=64, unique=True)
    secret_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.key} ({self.account})"


def month_start(moment: datetime.datetime | None = None) -> datetime.date:
    """The `QuotaPeriod.month` key of a moment (now by default): the first day of its UTC month."""
    moment = moment or timezone.now()
    return moment.astimezone(datetime.UTC).date().replace(day=1)


class QuotaPeriod(models.Model):
    """Original bytes counted against an account in one calendar month (UTC), reservations included.

    Changed only by conditional UPDATEs in accounts.services, so parallel uploads cannot overspend.
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="quota_periods")
    month = models.DateField(help_text="First day of the month (UTC)")
    used_bytes = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "month"], name="quota_period_account_month"),
            models.CheckConstraint(condition=Q(used_bytes__gte=0), name="quota_period_used_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.month:%Y-%m}: {self.used_bytes}"


class ConsumptionDay(models.Model):
    """The consumption ledger: per account, UTC day and origin, bytes before/after, originals compressed
    (`files`) and the optimized images (styles) they completed with (`optimized_files`)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="consumption_days")
    day = models.DateField()
    origin = models.CharField(max_length=32)
    bytes_before = models.BigIntegerField(default=0)
    bytes_after = models.BigIntegerField(default=0)
    files = models.IntegerField(default=0)
    optimized_files = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "day", "origin"], name="consumption_day_account_day_origin"
            ),
        ]
        indexes = [
            models.Index(fields=["account", "day"], name="consumption_account_day"),
            # The operators' landing page sums the month of every account (crush/platform_stats.py).
            models.Index(fields=["day"], name="consumption_day"),
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.day} {self.origin}"
