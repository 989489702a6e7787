"""Originals, their optimized styles and the stored files both point at.

A StoredFile is one object in the files storage: `key` is its storage name (built in compression/storage.py
from ids, never from the client's filename), `token` the unguessable part of its public download link.
"""

from __future__ import annotations

import secrets

from django.db import models
from django.db.models import Q

from accounts.models import Account, CompressionType

TOKEN_BYTES = 24  # 192 bits: download links are public, the token is their only secret


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


class Status(models.TextChoices):
    ENQUEUED = "enqueued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


ENDED_STATUSES = (Status.COMPLETED, Status.FAILED)


class StoredFile(models.Model):
    token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    key = models.CharField(max_length=255, unique=True)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    expire_at = models.DateTimeField()
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["expire_at"], name="stored_file_live_expiry", condition=Q(deleted_at=None)),
        ]

    def __str__(self) -> str:
        return self.key


class OriginalImage(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="original_images")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ENQUEUED)
    error_msg = models.TextField(null=True, blank=True)  # noqa: DJ001 - the API shows null
    error_code = models.CharField(max_length=32, blank=True, help_text="Stable code of the failure")
    compression_type = models.CharField(max_length=16, choices=CompressionType.choices)
    compression_level = models.PositiveSmallIntegerField(null=True, blank=True)
    convert = models.CharField(
        max_length=64, blank=True, help_text="Output formats asked (comma-separated); empty: the input's"
    )
    quality_target = models.PositiveSmallIntegerField(
        default=80, help_text="The SSIMULACRA2 score balanced outputs reach (the request's or the account's)"
    )
    strip_tags = models.BooleanField(default=True)
    preserve = models.CharField(
        max_length=64, default="icc", blank=True, help_text="Metadata kept with strip_tags (comma-separated)"
    )
    origin = models.CharField(max_length=32)
    image_url = models.TextField(blank=True, help_text="Source URL (may carry credentials: never shown)")
    base_url = models.CharField(max_length=255, help_text="Absolute base of links (webhooks of async jobs)")
    synchronous = models.BooleanField(default=False)
    filename = models.CharField(max_length=255, blank=True)
    file_type = models.CharField(max_length=100, blank=True)
    size = models.BigIntegerField(null=True, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    file = models.ForeignKey(StoredFile, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Processing runs started")
    claimed_by = models.CharField(
        max_length=255, blank=True, help_text="The worker process running it: node name and process id"
    )
    unpublished = models.BooleanField(
        default=False, help_text="Its broker message could not be sent (broker down); the sweeper sends it"
    )
    quota_month = models.DateField(null=True, blank=True, help_text="Month the size was counted in")
    ledger_files = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Optimized files counted in the consumption ledger (empty until the original is counted)",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    expire_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["account", "-created_at", "-id"], name="original_account_newest"),
            models.Index(
                fields=["status", "updated_at"],
                name="original_unfinished",
                condition=Q(status__in=["enqueued", "processing"]),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.filename or self.image_url[:40]} ({self.status})"


class OptimizedImage(models.Model):
    ORIGINAL_STYLE = "original"

    original = models.ForeignKey(OriginalImage, on_delete=models.CASCADE, related_name="optimized_images")
    style = models.CharField(max_length=64)
    strategy = models.CharField(max_length=16, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    background = models.CharField(max_length=32, null=True, blank=True)  # noqa: DJ001 - API null
    convert = models.CharField(
        max_length=64, blank=True, help_text="Output formats asked (comma-separated); empty: the input's"
    )
    candidates = models.JSONField(
        default=list, blank=True, help_text="The output formats tried: format, size, score, why not used"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ENQUEUED)
    error_msg = models.TextField(null=True, blank=True)  # noqa: DJ001 - the API shows null
    error_code = models.CharField(max_length=32, blank=True, help_text="Stable code of the failure")
    compression_type = models.CharField(max_length=16, choices=CompressionType.choices)
    compression_level = models.PositiveSmallIntegerField(null=True, blank=True)
    size = models.BigIntegerField(null=True, blank=True)
    ssimulacra2 = models.FloatField(null=True, blank=True)
    file = models.ForeignKey(StoredFile, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    file_type = models.CharField(max_length=100, blank=True)
    filename = models.CharField(max_length=255, blank=True)
    kept_original = models.BooleanField(default=False, help_text="The output's bytes are the original's")
    warning = models.CharField(  # noqa: DJ001 - the API shows null
        max_length=255, null=True, blank=True, help_text="Set when the engine fell back (an optimizer failed)"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    expire_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["original", "style"], name="optimized_original_style"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.style} of #{self.original_id} ({self.status})"


class ExportType(models.TextChoices):
    OPTIMIZED = "optimized"
    ORIGINAL = "original"


class Export(models.Model):
    """A zip of an account's optimized (or original) files, built by a worker (`POST /v1/export`).

    At most one export of an account is running (`enqueued` or `processing`) at a time: the partial unique
    constraint holds it even against two requests at once. `updated_at` is the running build's heartbeat.
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="exports")
    type = models.CharField(max_length=16, choices=ExportType.choices, default=ExportType.OPTIMIZED)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ENQUEUED)
    files = models.PositiveIntegerField(null=True, blank=True, help_text="Entries in the zip once completed")
    size = models.BigIntegerField(null=True, blank=True, help_text="Bytes of the zip once completed")
    file = models.ForeignKey(StoredFile, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    error_msg = models.TextField(null=True, blank=True)  # noqa: DJ001 - the API shows null
    error_code = models.CharField(max_length=32, blank=True, help_text="Stable code of the failure")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    expire_at = models.DateTimeField(help_text="When the zip is purged (CRUSH_RETENTION_DAYS after)")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["account", "-created_at", "-id"], name="export_account_newest")]
        constraints = [
            models.UniqueConstraint(
                fields=["account"],
                condition=Q(status__in=["enqueued", "processing"]),
                name="export_one_running_per_account",
            ),
        ]

    def __str__(self) -> str:
        return f"export #{self.pk} {self.type} of {self.account_id} ({self.status})"
