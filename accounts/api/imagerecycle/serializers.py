"""Shapes of the ImageRecycle surface's accounts endpoints (API.md §2; seeds/000_… "Accounts")."""

from __future__ import annotations

import datetime
from typing import Any

from rest_framework import serializers

from accounts.models import Account
from crush.lib.dbranges import BIGINT_MAX

MAX_TITLE_CHARS = 200
MAX_DESCRIPTION_CHARS = 2000


def form_value(value: Any) -> Any:
    """The original documentation's curl examples quote form values (`-d 'quota="524288000"'`), so the
    quotes arrive as part of the value; one surrounding pair is dropped."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


class SubAccountInputSerializer(serializers.Serializer):
    """Create and edit; every field optional. `quota` and `monthly_quota` are synonyms (the original
    accepted both); null or an empty value removes the sub-account's own allowance."""

    title = serializers.CharField(max_length=MAX_TITLE_CHARS, required=False, allow_blank=True)
    description = serializers.CharField(max_length=MAX_DESCRIPTION_CHARS, required=False, allow_blank=True)
    quota = serializers.IntegerField(min_value=0, max_value=BIGINT_MAX, required=False, allow_null=True)
    monthly_quota = serializers.IntegerField(
        min_value=0, max_value=BIGINT_MAX, required=False, allow_null=True
    )

    class Meta:
        ref_name = "ImageRecycleSubAccountInput"

    def to_internal_value(self, data: Any) -> Any:
        cleaned: dict[str, Any] = {
            name: form_value(data.get(name)) for name in map(str, self.fields) if name in data
        }
        for name in ("quota", "monthly_quota"):
            if cleaned.get(name) == "":
                cleaned[name] = None
        return super().to_internal_value(cleaned)

    @staticmethod
    def service_fields(attrs: dict[str, Any]) -> dict[str, Any]:
        """Keyword arguments of sub_account_create/sub_account_update for the fields given."""
        fields: dict[str, Any] = {name: attrs[name] for name in ("title", "description") if name in attrs}
        if "monthly_quota" in attrs:
            fields["quota_bytes"] = attrs["monthly_quota"]
        elif "quota" in attrs:
            fields["quota_bytes"] = attrs["quota"]
        return fields


# Unix timestamps, as the ImageRecycle plugins print them with PHP's date(); noon UTC, so that the day shown
# is the same on a server in any time zone from UTC-11 to UTC+11.
QUOTA_START_HELP = "First day of the current month, as a Unix timestamp of 12:00 UTC that day"
QUOTA_END_HELP = "Last day of the current month, as a Unix timestamp of 12:00 UTC that day"


def day_timestamp(day: datetime.date) -> int:
    """12:00 UTC of ``day`` in seconds since the epoch."""
    return int(datetime.datetime.combine(day, datetime.time(12), tzinfo=datetime.UTC).timestamp())


class AccountMineSerializer(serializers.Serializer):
    quota_start = serializers.IntegerField(help_text=QUOTA_START_HELP)
    quota_end = serializers.IntegerField(help_text=QUOTA_END_HELP)
    quota_current = serializers.IntegerField(help_text="Original bytes counted this month")
    quota_allowed = serializers.IntegerField(allow_null=True, help_text="Monthly allowance; null: unlimited")
    file_max_size = serializers.IntegerField(help_text="Largest accepted file, in bytes")

    class Meta:
        ref_name = "ImageRecycleAccount"


class SubAccountSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    description = serializers.CharField()
    quota_start = serializers.IntegerField(help_text=QUOTA_START_HELP)
    quota_end = serializers.IntegerField(help_text=QUOTA_END_HELP)
    quota_allowed = serializers.IntegerField(
        allow_null=True, help_text="Its own monthly allowance, else its parent's; null: unlimited"
    )
    quota_current = serializers.IntegerField(help_text="Original bytes counted this month")
    file_max_size = serializers.IntegerField(help_text="Largest accepted file, in bytes")
    quota_file_max_size = serializers.IntegerField(help_text="Same as file_max_size (the original's name)")
    api_key = serializers.CharField(allow_null=True)
    api_secret = serializers.CharField(
        allow_null=True, help_text="Shown only on create and reset_secret (stored hashed); null elsewhere"
    )

    class Meta:
        ref_name = "ImageRecycleSubAccount"


class SubAccountListSerializer(serializers.Serializer):
    items = SubAccountSerializer(many=True)

    class Meta:
        ref_name = "ImageRecycleSubAccountList"


class SuccessSerializer(serializers.Serializer):
    Success = serializers.BooleanField()

    class Meta:
        ref_name = "ImageRecycleSuccess"


class ConsumptionPeriodSerializer(serializers.Serializer):
    date = serializers.DateField(source="start", help_text="The day, or the first day of the month")
    total_size_before = serializers.IntegerField(source="bytes_before")
    total_size_after = serializers.IntegerField(source="bytes_after")
    files_count = serializers.IntegerField(source="files")


class ConsumptionSerializer(serializers.Serializer):
    last_days = ConsumptionPeriodSerializer(many=True, help_text="The last 30 days, oldest first")
    last_months = ConsumptionPeriodSerializer(many=True, help_text="The last 12 months, oldest first")


class DayConsumptionSerializer(serializers.Serializer):
    date = serializers.DateField(source="start", help_text="The day (UTC)")
    consumption = serializers.IntegerField(
        source="bytes_before", help_text="Bytes counted against the allowance that day"
    )


class ConsumptionEnvelopeSerializer(serializers.Serializer):
    """Both shapes of the original documentation in one body: `consumption` (per day and per month) and
    `consumptions` (the same last 30 days as `{date, consumption}`)."""

    consumption = ConsumptionSerializer()
    consumptions = DayConsumptionSerializer(many=True, help_text="The last 30 days, oldest first")

    class Meta:
        ref_name = "ImageRecycleConsumption"


def allowance(account: Account) -> int | None:
    """The allowance that bounds the account: its own, else (sub-account without one) its parent's."""
    if account.plan_bytes is not None or account.parent is None:
        return account.plan_bytes
    return account.parent.plan_bytes
