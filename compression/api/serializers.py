"""Input shapes of the /v1/ compression endpoints, and the output shapes that document `presenters`' dicts.

Serializers check shape only (types, ranges, lengths, characters, which fields go together); the service
checks the rules (the number of resize styles, their names unique and not reserved, their geometry per
strategy; quota, file type).
"""

from __future__ import annotations

import unicodedata
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import QUALITY_TARGET_MAX, QUALITY_TARGET_MIN, CompressionType
from compression.engine import ResizeStrategy
from compression.engine.options import CONVERT_CHOICES, MAX_LEVEL, MIN_LEVEL, PRESERVE_CHOICES
from compression.models import Status
from compression.services.options import StyleRequest, SubmitOptions
from crush.api.surfaces.crushpics import PaginationOutputSerializer
from crush.lib.dbranges import INT_MAX
from crush.lib.errors import ValidationFailed
from crush.lib.timestamps import UtcTimestampField

MAX_IMAGE_URL_CHARS = 2048
MAX_STYLE_CHARS = 64  # OptimizedImage.style's column
MAX_ORIGIN_CHARS = 32  # OriginalImage.origin's column
MAX_BACKGROUND_CHARS = 32


def validated(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    """The serializer's validated data, or ValidationFailed (422) with API.md's `{field: [messages]}`."""
    serializer = serializer_class(data=data)
    if not serializer.is_valid():
        raise ValidationFailed(errors_flat(serializer.errors))
    return dict(serializer.validated_data)


def errors_flat(errors: Any) -> dict[str, list[str]]:
    """DRF errors with nested ones (`{"resize": {0: {"width": [...]}}}`) flattened under their top field:
    `{"resize": ["resize[0].width: A valid integer is required."]}`."""
    if not isinstance(errors, dict):
        return {"non_field_errors": _messages(errors, "")}
    flat: dict[str, list[str]] = {}
    for field, detail in errors.items():
        if isinstance(detail, list) and not any(isinstance(item, (dict, list)) for item in detail):
            flat[str(field)] = [str(item) for item in detail]
        else:
            flat[str(field)] = _messages(detail, str(field))
    return flat


def _messages(detail: Any, path: str) -> list[str]:
    if isinstance(detail, dict):
        messages: list[str] = []
        for key, value in detail.items():
            if isinstance(key, int) or str(key).isdigit():
                messages += _messages(value, f"{path}[{key}]")
            elif key == "non_field_errors":
                messages += _messages(value, path)
            else:
                messages += _messages(value, f"{path}.{key}" if path else str(key))
        return messages
    if isinstance(detail, list):
        return [message for item in detail for message in _messages(item, path)]
    return [f"{path}: {detail}" if path else str(detail)]


class ChoiceListField(serializers.Field):
    """One choice, a comma-separated list, or a JSON list of them; returns a tuple in the order given."""

    def __init__(self, choices: tuple[str, ...], **kwargs: Any) -> None:
        self.choices = choices
        super().__init__(**kwargs)
        self.error_messages["invalid"] = f"Must be one of {', '.join(choices)}, or a list of them."

    def to_internal_value(self, data: Any) -> tuple[str, ...]:
        values = [data] if isinstance(data, str) else data
        if not isinstance(values, list | tuple) or not all(isinstance(value, str) for value in values):
            self.fail("invalid")
        parts = (part.strip().lower() for value in values for part in value.split(","))
        names = tuple(dict.fromkeys(part for part in parts if part))
        if any(name not in self.choices for name in names):
            self.fail("invalid")
        return names

    def to_representation(self, value: Any) -> Any:
        return list(value)


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]})
class _DocumentedChoiceListField(ChoiceListField):
    pass


def convert_field() -> ChoiceListField:
    return _DocumentedChoiceListField(
        CONVERT_CHOICES,
        required=False,
        allow_null=True,
        help_text="Output format(s): webp, avif, jxl, jpeg, png, gif, or auto (the input's, WebP or AVIF); "
        "a list returns the smallest that meets the compression type's rule",
    )


def preserve_field() -> ChoiceListField:
    return _DocumentedChoiceListField(
        PRESERVE_CHOICES,
        required=False,
        allow_null=True,
        help_text="Metadata kept when strip_tags is on: copyright, creation, location, camera, icc "
        "(default: icc only; GPS is dropped unless location is asked)",
    )


class StyleInputSerializer(serializers.Serializer):
    style = serializers.CharField(  # type: ignore[assignment]  # DRF pops declared fields off the class
        max_length=MAX_STYLE_CHARS, help_text="Name of the style, unique per request"
    )
    strategy = serializers.ChoiceField(
        choices=[strategy.value for strategy in ResizeStrategy],
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="Default fit",
    )
    width = serializers.IntegerField(
        min_value=0, max_value=INT_MAX, required=False, allow_null=True, help_text="Pixels"
    )
    height = serializers.IntegerField(
        min_value=0, max_value=INT_MAX, required=False, allow_null=True, help_text="Pixels"
    )
    background = serializers.CharField(
        max_length=MAX_BACKGROUND_CHARS,
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="fill: padding colour, default white (or transparent with alpha); also what alpha is "
        "flattened over when converted to JPEG",
    )
    convert = convert_field()

    def validate_style(self, value: str) -> str:
        if any(unicodedata.category(char)[0] == "C" for char in value):
            raise serializers.ValidationError("Style names cannot contain control characters.")
        return value


class CompressInputSerializer(serializers.Serializer):
    """The fields of both compress endpoints (API.md §1 "Compression parameters"); unknown ones ignored."""

    file = serializers.FileField(
        required=False, allow_empty_file=True, use_url=False, help_text="The image or PDF (multipart only)"
    )
    image_url = serializers.CharField(
        max_length=MAX_IMAGE_URL_CHARS,
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="http(s) URL to download the image from; may carry user:pass@ for basic auth",
    )
    compression_type = serializers.ChoiceField(
        choices=CompressionType.values, required=False, allow_null=True, allow_blank=True
    )
    compression_level = serializers.IntegerField(
        min_value=MIN_LEVEL,
        max_value=MAX_LEVEL,
        required=False,
        allow_null=True,
        help_text=f"Quality of lossy ({MIN_LEVEL}-{MAX_LEVEL})",
    )
    quality_target = serializers.IntegerField(
        min_value=QUALITY_TARGET_MIN,
        max_value=QUALITY_TARGET_MAX,
        required=False,
        allow_null=True,
        help_text="The SSIMULACRA2 score balanced outputs reach (50-95); default the account's (80)",
    )
    convert = convert_field()
    preserve = preserve_field()
    resize = serializers.ListField(
        child=StyleInputSerializer(),
        required=False,
        allow_null=True,
        help_text="Resize styles (at most 10); form bodies may send resize[][style]=… or one JSON string",
    )
    strip_tags = serializers.BooleanField(required=False, default=True)
    origin = serializers.CharField(
        max_length=MAX_ORIGIN_CHARS,
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="Statistics tag; default file for uploads, url for image_url",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if (attrs.get("file") is None) == (not attrs.get("image_url")):
            raise serializers.ValidationError(
                {"file": ["Send either a file or an image_url, not both or neither."]}
            )
        return attrs

    @staticmethod
    def options(attrs: dict[str, Any]) -> SubmitOptions:
        return SubmitOptions(
            compression_type=attrs.get("compression_type") or None,
            compression_level=attrs.get("compression_level"),
            quality_target=attrs.get("quality_target"),
            convert=attrs.get("convert") or (),
            preserve=attrs.get("preserve"),
            resize=tuple(
                StyleRequest(
                    style=style["style"],
                    strategy=style.get("strategy") or ResizeStrategy.FIT.value,
                    width=style.get("width"),
                    height=style.get("height"),
                    background=style.get("background") or None,
                    convert=style.get("convert"),
                )
                for style in attrs.get("resize") or ()
            ),
            strip_tags=attrs["strip_tags"],
            origin=attrs.get("origin") or None,
        )


# --- output shapes (the dicts of compression.presenters; documented for the schema) ------------------


class CandidateOutputSerializer(serializers.Serializer):
    format = serializers.CharField()
    size = serializers.IntegerField(allow_null=True, help_text="Bytes; null when not made")
    ssimulacra2 = serializers.FloatField(allow_null=True)
    error = serializers.CharField(allow_null=True, help_text="Why it was not made or not used")


class OptimizedImageOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Status.values)
    error_msg = serializers.CharField(allow_null=True)
    compression_type = serializers.ChoiceField(choices=CompressionType.values)
    compression_level = serializers.IntegerField(allow_null=True)
    style = serializers.CharField(  # type: ignore[assignment]  # DRF pops declared fields off the class
        help_text='"original" (same dimensions) or the name of a resize style'
    )
    strategy = serializers.CharField(allow_null=True)
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)
    background = serializers.CharField(allow_null=True)
    size = serializers.IntegerField(allow_null=True, help_text="Bytes")
    saved_bytes = serializers.IntegerField(allow_null=True, help_text="Bytes saved against the original")
    ssimulacra2 = serializers.FloatField(allow_null=True, help_text="Score achieved (balanced), else null")
    quality_target = serializers.IntegerField(
        allow_null=True, help_text="The score balanced was held to (request or account), else null"
    )
    convert = serializers.ListField(child=serializers.CharField(), allow_null=True, help_text="As asked")
    candidates = CandidateOutputSerializer(many=True, help_text="The output formats tried (with convert)")
    file_type = serializers.CharField(allow_null=True)
    filename = serializers.CharField()
    link = serializers.URLField(allow_null=True)
    kept_original = serializers.BooleanField(
        help_text="True when the output's bytes are the original's (nothing smaller was found)"
    )
    warning = serializers.CharField(
        allow_null=True, help_text="Null normally; set when an optimizer failed and a fallback was used"
    )
    expire_at = UtcTimestampField()
    created_at = UtcTimestampField()
    updated_at = UtcTimestampField()


class OriginalImageOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    compression_type = serializers.ChoiceField(choices=CompressionType.values)
    compression_level = serializers.IntegerField(allow_null=True)
    quality_target = serializers.IntegerField(allow_null=True, help_text="See the optimized images' field")
    convert = serializers.ListField(child=serializers.CharField(), allow_null=True, help_text="As asked")
    preserve = serializers.ListField(child=serializers.CharField(), help_text="Metadata kept with strip_tags")
    origin = serializers.CharField()
    size = serializers.IntegerField(allow_null=True, help_text="Bytes; null while an image_url job waits")
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)
    file_type = serializers.CharField(allow_null=True)
    filename = serializers.CharField()
    status = serializers.ChoiceField(choices=Status.values)
    error_msg = serializers.CharField(allow_null=True)
    created_at = UtcTimestampField()
    updated_at = UtcTimestampField()
    expire_at = UtcTimestampField()
    link = serializers.URLField(allow_null=True)
    optimized_images = OptimizedImageOutputSerializer(many=True)


SUCCESS_HELP = "Always true in a 2xx answer (errors carry false), as the original service's plugins check"


class OriginalImageEnvelopeSerializer(serializers.Serializer):
    success = serializers.BooleanField(help_text=SUCCESS_HELP)
    original_image = OriginalImageOutputSerializer()


class OriginalImageListOutputSerializer(serializers.Serializer):
    success = serializers.BooleanField(help_text=SUCCESS_HELP)
    original_images = OriginalImageOutputSerializer(many=True)
    pagination = PaginationOutputSerializer()
