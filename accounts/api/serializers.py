"""The `shop` object of /v1/shop (API.md §1, "Endpoints")."""

from typing import Any

from rest_framework import serializers

from accounts.models import CompressionType
from crush.lib.timestamps import UtcTimestampField
from crush.lib.urls import url_masked


class CallbackUrlRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.URLField()
    disabled = serializers.BooleanField(help_text="Deliveries stopped (410 answer or 5 days failing)")


class ShopCallbackUrlSerializer(serializers.Serializer):
    """A callback URL `PATCH /v1/shop` created, as `POST /v1/callback_urls` answers it."""

    id = serializers.IntegerField()
    url = serializers.SerializerMethodField(help_text="A password in the URL is shown as ***")
    disabled = serializers.SerializerMethodField()
    secret = serializers.CharField(help_text="whsec_…: the signing secret, shown only in this answer")
    created_at = UtcTimestampField()

    def get_url(self, callback_url: Any) -> str:
        return url_masked(callback_url.url)

    def get_disabled(self, callback_url: Any) -> bool:
        return not callback_url.is_active


class PlanDataSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    price = serializers.DecimalField(max_digits=10, decimal_places=2, coerce_to_string=False)
    bytes = serializers.IntegerField(
        allow_null=True, help_text="Monthly allowance of original bytes; null: unlimited"
    )
    quota_usage = serializers.IntegerField(help_text="Original bytes counted this calendar month (UTC)")


class ShopSerializer(serializers.Serializer):
    login = serializers.CharField()
    email = serializers.EmailField()
    compression_type = serializers.ChoiceField(choices=CompressionType.values)
    compression_level_jpg = serializers.IntegerField()
    compression_level_png = serializers.IntegerField()
    compression_level_gif = serializers.IntegerField()
    quality_target = serializers.IntegerField(
        help_text="The SSIMULACRA2 score balanced outputs reach unless a request sets its own (50-95)"
    )
    charged_at = UtcTimestampField(allow_null=True)
    next_charge_at = UtcTimestampField(allow_null=True)
    created_at = UtcTimestampField()
    updated_at = UtcTimestampField()
    callback_urls = CallbackUrlRefSerializer(many=True)
    plan_data = PlanDataSerializer()
