"""Tinify's requests and answers (docs/tinify.md), translated to and from the compression services' words.

Resize methods onto Crush's strategies: `scale` (exactly one side) → `landscape` (width given) or `portrait`
(height given); `fit` → `fit`; `cover` → `crop`; `thumb` → `crop` (Crush has no detection of free-standing
objects: the centre crop is `cover`'s). Formats: `image/png|jpeg|webp|avif` → `png|jpeg|webp|avif`; a list →
the smallest of them; `*/*` → `auto` (the smallest of the input's format, WebP and AVIF).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from compression import engine
from compression.models import OptimizedImage, OriginalImage
from compression.services.options import StyleRequest, SubmitOptions
from compression.services.store import GcsTarget, S3Target

# Tinify's "smart lossy": the reduction each image takes is chosen by how it looks (SSIMULACRA2 floor), which
# is Crush's `balanced` (palette quantisation for PNG included); `lossy` is a fixed level whatever the image.
COMPRESSION_TYPE = engine.CompressionType.BALANCED
ORIGIN = "tinify"
TRANSFORMED_STYLE = "tinify"  # the resize style a transformed output is rendered as

RESIZE_METHODS = ("scale", "fit", "cover", "thumb")
_STRATEGIES = {
    "fit": engine.ResizeStrategy.FIT,
    "cover": engine.ResizeStrategy.CROP,
    "thumb": engine.ResizeStrategy.CROP,
}
PRESERVE_CHOICES = ("copyright", "creation", "location")
KEPT_ALWAYS = ("icc",)  # the colour profile, as TinyPNG keeps it
_FORMATS = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/webp": "webp",
    "image/avif": "avif",
    "*/*": engine.options.CONVERT_AUTO,
}
STORE_SERVICES = ("s3", "gcs")


class SourceSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=2048)

    class Meta:
        ref_name = "TinifySource"


class ShrinkJsonSerializer(serializers.Serializer):
    """The JSON form of /shrink (the other is the image's bytes as the body)."""

    source = SourceSerializer()  # type: ignore[assignment]  # a field named like Field.source: DRF allows it


class ResizeSerializer(serializers.Serializer):
    method = serializers.ChoiceField(choices=RESIZE_METHODS, required=False, default="fit")
    width = serializers.IntegerField(min_value=1, required=False)
    height = serializers.IntegerField(min_value=1, required=False)

    class Meta:
        ref_name = "TinifyResize"

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        sides = sum(1 for side in ("width", "height") if attrs.get(side) is not None)
        if attrs["method"] == "scale" and sides != 1:
            raise serializers.ValidationError("scale takes either a width or a height, not both.")
        if attrs["method"] != "scale" and sides != 2:
            raise serializers.ValidationError(f"{attrs['method']} takes a width and a height.")
        return attrs


@extend_schema_field(
    {
        "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
        "example": ["image/webp", "image/png"],
    }
)
class FormatListField(serializers.Field):
    """`"image/webp"`, `["image/webp", "image/png"]` or `"*/*"` → Crush's format names."""

    default_error_messages = {"invalid": "Give a MIME type ({choices}) or a list of them."}

    def to_internal_value(self, data: Any) -> tuple[str, ...]:
        values = data if isinstance(data, list) else [data]
        if not values or not all(isinstance(value, str) and value.lower() in _FORMATS for value in values):
            self.fail("invalid", choices=", ".join(_FORMATS))
        return tuple(dict.fromkeys(_FORMATS[value.lower()] for value in values))

    def to_representation(self, value: Any) -> Any:
        return value


class ConvertSerializer(serializers.Serializer):
    type = FormatListField()

    class Meta:
        ref_name = "TinifyConvert"


class TransformSerializer(serializers.Serializer):
    background = serializers.CharField(max_length=32, help_text="white, black or #rrggbb")


class StoreSerializer(serializers.Serializer):
    service = serializers.ChoiceField(choices=STORE_SERVICES)
    aws_access_key_id = serializers.CharField(max_length=128, required=False)
    aws_secret_access_key = serializers.CharField(max_length=128, required=False)
    region = serializers.CharField(max_length=32, required=False, default="us-east-1")
    path = serializers.CharField(max_length=1024)
    acl = serializers.CharField(max_length=32, required=False)
    headers = serializers.DictField(
        child=serializers.CharField(max_length=1024), required=False, default=dict
    )
    gcp_access_token = serializers.CharField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["service"] == "gcs":
            if not attrs.get("gcp_access_token"):
                raise serializers.ValidationError("gcs takes gcp_access_token.")
            return attrs
        if not attrs.get("aws_access_key_id") or not attrs.get("aws_secret_access_key"):
            raise serializers.ValidationError("s3 takes aws_access_key_id and aws_secret_access_key.")
        return attrs


class OutputCommandSerializer(serializers.Serializer):
    """POST /output/<id>: what to make of the output (all optional; none = the output as it is)."""

    resize = ResizeSerializer(required=False)
    preserve = serializers.ListField(
        child=serializers.ChoiceField(choices=PRESERVE_CHOICES), required=False, allow_empty=True
    )
    convert = ConvertSerializer(required=False)
    transform = TransformSerializer(required=False)
    store = StoreSerializer(required=False)


@dataclass(frozen=True, slots=True)
class OutputCommand:
    options: SubmitOptions
    style: str  # the output answered: the full-size one or TRANSFORMED_STYLE
    store: S3Target | GcsTarget | None


def output_command(data: dict[str, Any]) -> OutputCommand:
    """Validated POST /output/<id> fields → the submit options of the transformed output."""
    resize = data.get("resize")
    background = (data.get("transform") or {}).get("background")
    preserve = data.get("preserve")
    options_style: tuple[StyleRequest, ...] = ()
    if resize is not None or background is not None:
        options_style = (_style(resize, background),)
    store = data.get("store")
    return OutputCommand(
        options=SubmitOptions(
            compression_type=COMPRESSION_TYPE,
            convert=data["convert"]["type"] if data.get("convert") else (),
            preserve=None if preserve is None else (*KEPT_ALWAYS, *dict.fromkeys(preserve)),
            resize=options_style,
            origin=ORIGIN,
        ),
        style=TRANSFORMED_STYLE if options_style else OptimizedImage.ORIGINAL_STYLE,
        store=_store_target(store) if store else None,
    )


def _style(resize: dict[str, Any] | None, background: str | None) -> StyleRequest:
    """The resize style of a transformed output; without `resize` (a background alone), fit into a box no
    image reaches, so the size stays."""
    if resize is None:
        box = engine.options.MAX_RESIZE_PX
        return StyleRequest(TRANSFORMED_STYLE, engine.ResizeStrategy.FIT.value, box, box, background)
    width, height = resize.get("width"), resize.get("height")
    if resize["method"] == "scale":
        strategy = engine.ResizeStrategy.LANDSCAPE if width is not None else engine.ResizeStrategy.PORTRAIT
    else:
        strategy = _STRATEGIES[resize["method"]]
    return StyleRequest(TRANSFORMED_STYLE, strategy.value, width, height, background)


def _store_target(store: dict[str, Any]) -> S3Target | GcsTarget:
    if store["service"] == "gcs":
        return GcsTarget(access_token=store["gcp_access_token"], path=store["path"], headers=store["headers"])
    return S3Target(
        access_key_id=store["aws_access_key_id"],
        secret_access_key=store["aws_secret_access_key"],
        region=store["region"],
        path=store["path"],
        acl=store.get("acl"),
        headers=store["headers"],
    )


# --- answers


class InputOutputSerializer(serializers.Serializer):
    size = serializers.IntegerField(help_text="Bytes")
    type = serializers.CharField(help_text="MIME type")

    class Meta:
        ref_name = "TinifyInput"


class OutputSerializer(serializers.Serializer):
    size = serializers.IntegerField(allow_null=True, help_text="Bytes")
    type = serializers.CharField(allow_null=True, help_text="MIME type")
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)
    ratio = serializers.FloatField(allow_null=True, help_text="Output size / input size")
    url = serializers.CharField(help_text="GET it (with the same credentials) for the image")

    class Meta:
        ref_name = "TinifyOutput"


class ShrinkResultSerializer(serializers.Serializer):
    input = InputOutputSerializer()
    output = OutputSerializer()


def shrink_data(original: OriginalImage, output: OptimizedImage | None, *, url: str) -> dict[str, Any]:
    """The /shrink answer; the output's fields are null while it is still being compressed."""
    size = output.size if output is not None else None
    ratio = round(size / original.size, 4) if size is not None and original.size else None
    return {
        "input": {"size": original.size, "type": original.file_type},
        "output": {
            "size": size,
            "type": output.file_type if output is not None else None,
            "width": output.width if output is not None else None,
            "height": output.height if output is not None else None,
            "ratio": ratio,
            "url": url,
        },
    }
