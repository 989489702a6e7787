"""Kraken's request options, translated into a submit's (docs/kraken.md "Options").

Kraken's words → Crush's: `lossy` → `lossy`/`lossless` (`quality` → the lossy level; a JPEG conversion
without `lossy` is `balanced`, as JPEG cannot be lossless); a `resize` object → the full-size output's resize;
a `resize` array → one resize style per `id`; `convert.format` → `convert`; `preserve_meta` → `preserve`
(`profile` → `icc`, `date` → `creation`, `geotag` → `location`). `auto_orient` and `sampling_scheme` are
accepted: Crush always applies the EXIF orientation, and picks the chroma subsampling itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from rest_framework import serializers

from accounts.models import CompressionType
from compression.api.serializers import MAX_STYLE_CHARS
from compression.engine.options import MAX_LEVEL, MIN_LEVEL, InvalidSpec, ResizeStrategy, parse_colour
from compression.services.options import StyleRequest, SubmitOptions
from crush.api import jsonbody
from crush.lib.errors import ValidationFailed

MAX_URL_CHARS = 2048
MAX_OBJECT_KEY_CHARS = 1024  # S3's limit
MAX_RESIZE_PX = 100_000
PRESERVE_META = {
    "profile": "icc",
    "date": "creation",
    "copyright": "copyright",
    "geotag": "location",
    "orientation": "orientation",
}
CONVERT_FORMATS = ("jpeg", "jpg", "png", "gif", "webp", "avif")
SAMPLING_SCHEMES = ("4:2:0", "4:2:2", "4:4:4")
DEFAULT_STRATEGY = ResizeStrategy.AUTO.value
SINGLE_RESIZE_STYLE = "resize"  # the name a single `resize` object's style is reported under in errors


class ColourField(serializers.CharField):
    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        try:
            parse_colour(value)
        except InvalidSpec as exc:
            raise serializers.ValidationError(exc.message) from None
        return value


class ResizeSerializer(serializers.Serializer):
    """One resize: `strategy` with `width`/`height` (`size` for `square`), `background` for `fill`. Kraken's
    current CLI: `portrait` = exact height, `landscape` = exact width (the aspect kept)."""

    id = serializers.CharField(max_length=MAX_STYLE_CHARS, required=False, help_text="Required in an array")
    strategy = serializers.ChoiceField(
        choices=[strategy.value for strategy in ResizeStrategy],
        required=False,
        default=DEFAULT_STRATEGY,
        error_messages={"invalid_choice": "Invalid resize strategy"},
    )
    width = serializers.IntegerField(min_value=1, max_value=MAX_RESIZE_PX, required=False)
    height = serializers.IntegerField(min_value=1, max_value=MAX_RESIZE_PX, required=False)
    size = serializers.IntegerField(min_value=1, max_value=MAX_RESIZE_PX, required=False)
    background = ColourField(required=False)
    storage_path = serializers.CharField(
        max_length=MAX_OBJECT_KEY_CHARS, required=False, help_text="With s3_store: this output's object key"
    )

    class Meta:
        ref_name = "KrakenResize"


class ConvertSerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=CONVERT_FORMATS)
    background = ColourField(required=False, help_text="Under transparent pixels of an output without alpha")
    keep_extension = serializers.BooleanField(required=False, default=False)

    class Meta:
        ref_name = "KrakenConvert"


class S3StoreSerializer(serializers.Serializer):
    key = serializers.CharField()
    secret = serializers.CharField()
    bucket = serializers.CharField()
    region = serializers.CharField(required=False, default="us-east-1")
    path = serializers.CharField(max_length=MAX_OBJECT_KEY_CHARS, required=False, help_text="The object key")
    acl = serializers.ChoiceField(choices=("private", "public-read"), required=False, default="public-read")

    class Meta:
        ref_name = "KrakenS3Store"


class OptionsSerializer(serializers.Serializer):
    """The JSON options of /v1/url and /v1/upload (`auth` is read by the authentication); unknown keys are
    ignored, as Kraken does."""

    url = serializers.CharField(max_length=MAX_URL_CHARS, required=False, help_text="/v1/url: the image")
    wait = serializers.BooleanField(required=False, default=False)
    callback_url = serializers.CharField(max_length=MAX_URL_CHARS, required=False)
    lossy = serializers.BooleanField(required=False, default=False)
    quality = serializers.IntegerField(min_value=MIN_LEVEL, max_value=MAX_LEVEL, required=False)
    resize = serializers.JSONField(
        required=False, help_text="One resize object, or an array of them with ids"
    )
    convert = ConvertSerializer(required=False)
    preserve_meta = serializers.ListField(
        child=serializers.ChoiceField(choices=list(PRESERVE_META)), required=False
    )
    auto_orient = serializers.BooleanField(required=False)
    sampling_scheme = serializers.ChoiceField(choices=SAMPLING_SCHEMES, required=False)
    s3_store = S3StoreSerializer(required=False)
    dev = serializers.BooleanField(required=False, default=False)

    class Meta:
        ref_name = "KrakenOptions"


@dataclass(frozen=True, slots=True)
class KrakenRequest:
    url: str | None
    wait: bool
    dev: bool
    keep_extension: bool
    s3_store: dict[str, Any] | None
    storage_paths: dict[str, str]  # resize id -> its s3_store object key, when the array gave one
    options: SubmitOptions


def options_object(raw: Any) -> dict[str, Any]:
    """The options as a dict: the JSON body, or the JSON text of a multipart `data` field."""
    if isinstance(raw, str):
        try:
            raw = jsonbody.loads(raw)
        except ValueError:
            raise ValidationFailed("The data field is not valid JSON") from None
    if not isinstance(raw, dict):
        raise ValidationFailed("The request must be a JSON object")
    return raw


def _style(raw: Any, *, name: str | None) -> StyleRequest:
    resize = ResizeSerializer(data=raw)
    if not isinstance(raw, dict) or not resize.is_valid():
        raise ValidationFailed({"resize": resize.errors if isinstance(raw, dict) else ["Must be an object."]})
    given = resize.validated_data
    style = name if name is not None else given.get("id")
    if not style:
        raise ValidationFailed({"resize": ["Each resize in an array needs an id."]})
    return StyleRequest(
        style=str(style),
        strategy=given["strategy"],
        width=given.get("width") or given.get("size"),
        height=given.get("height") or given.get("size"),
        background=given.get("background"),
    )


def kraken_request(data: dict[str, Any]) -> KrakenRequest:
    options = OptionsSerializer(data=data)
    if not options.is_valid():
        raise ValidationFailed(options.errors)
    given = options.validated_data
    wait, callback_url = given["wait"], given.get("callback_url", "")
    if not wait and not callback_url and not given["dev"]:
        raise ValidationFailed({"wait": ["Set wait: true, or a callback_url."]})
    convert = given.get("convert")
    formats = (convert["format"],) if convert else ()
    compression_type = CompressionType.LOSSY if given["lossy"] else CompressionType.LOSSLESS
    if not given["lossy"] and formats and formats[0] in ("jpeg", "jpg"):
        compression_type = CompressionType.BALANCED  # JPEG holds no lossless image: the closest Crush has
    resize = given.get("resize")
    main_resize = _style(resize, name=SINGLE_RESIZE_STYLE) if isinstance(resize, dict) else None
    styles = tuple(_style(raw, name=None) for raw in resize) if isinstance(resize, list) else ()
    storage_paths = {
        str(raw["id"]): str(raw["storage_path"])
        for raw in (resize if isinstance(resize, list) else [])
        if isinstance(raw, dict) and raw.get("storage_path")
    }
    if given.get("s3_store") is not None and not wait:
        raise ValidationFailed({"s3_store": ["s3_store needs wait: true on this server."]})
    if resize is not None and not isinstance(resize, (dict, list)):
        raise ValidationFailed({"resize": ["Must be an object or an array of objects."]})
    preserve = given.get("preserve_meta")
    return KrakenRequest(
        url=given.get("url"),
        wait=wait,
        dev=given["dev"],
        keep_extension=bool(convert and convert["keep_extension"]),
        s3_store=given.get("s3_store"),
        storage_paths=storage_paths,
        options=SubmitOptions(
            compression_type=compression_type,
            compression_level=given.get("quality") if given["lossy"] else None,
            convert=formats,
            preserve=None
            if preserve is None
            else tuple(dict.fromkeys(PRESERVE_META[name] for name in preserve)),
            resize=styles,
            main_resize=main_resize,
            background=convert.get("background") if convert else None,
            callback_url="" if wait else callback_url,
        ),
    )


def upload_of(data: Any) -> UploadedFile | None:
    """The file of a multipart upload, in whichever field it came (the Python client's `file`, the CLI's
    `upload`)."""
    files = getattr(data, "values", None)
    return next((value for value in (files() if files else ()) if isinstance(value, UploadedFile)), None)


# --- output (documents the answers for the schema; the presenter builds them)


class ResultSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    file_name = serializers.CharField()
    original_size = serializers.IntegerField()
    kraked_size = serializers.IntegerField()
    saved_bytes = serializers.IntegerField()
    kraked_url = serializers.CharField()
    original_width = serializers.IntegerField(allow_null=True)
    original_height = serializers.IntegerField(allow_null=True)
    kraked_width = serializers.IntegerField(allow_null=True)
    kraked_height = serializers.IntegerField(allow_null=True)
    results = serializers.DictField(required=False, help_text="With a resize array: {id: {file_name, …}}")

    class Meta:
        ref_name = "KrakenResult"


class QueuedSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="Repeated in the POST to callback_url")

    class Meta:
        ref_name = "KrakenQueued"
