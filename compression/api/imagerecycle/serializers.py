"""Shapes of the ImageRecycle surface's images endpoints (API.md §2; seeds/000_… "Images").

`params` is a JSON string (or, in a JSON body, an object): `{"compression_type": …, "compression_level": …,
"resize": {"width": …}}`,
or for a URL upload `{"url": …, "params": {…}}`; the URL may also come as a top-level `url` field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from rest_framework import serializers

from accounts.models import QUALITY_TARGET_MAX, QUALITY_TARGET_MIN, CompressionType
from compression.api.serializers import convert_field, preserve_field
from compression.engine.options import MAX_LEVEL, MIN_LEVEL
from compression.models import OptimizedImage, OriginalImage, StoredFile
from compression.services.options import StyleRequest, SubmitOptions
from crush.api import jsonbody
from crush.api.surface import sentence
from crush.api.surfaces.imagerecycle import PageLinkSerializer, download_link
from crush.lib.errors import ValidationFailed
from crush.lib.timestamps import UtcTimestampField, iso_utc

MAX_URL_CHARS = 2048
MAX_BOUND_PX = 100_000
# `params.preserve_metas` (the WordPress plugin) -> `preserve`: its "datetime" is Crush's "creation".
PRESERVE_METAS = {"datetime": "creation"}
ZIP_MAX_IDS = 100
# str.isdigit() also takes "١٢" and "²": an id is ASCII digits, a few, so int() stays cheap.
_ASCII_ID = re.compile(r"[0-9]{1,19}")


class BoundSerializer(serializers.Serializer):
    """`params.resize`: the optimized image's largest width and/or height (the WordPress plugin sends the
    site's maximum upload width); aspect kept, never enlarged."""

    width = serializers.IntegerField(min_value=1, max_value=MAX_BOUND_PX, required=False, allow_null=True)
    height = serializers.IntegerField(min_value=1, max_value=MAX_BOUND_PX, required=False, allow_null=True)

    class Meta:
        ref_name = "ImageRecycleResize"


class ParamsSerializer(serializers.Serializer):
    """The compression options inside `params`; unknown keys are ignored."""

    compression_type = serializers.ChoiceField(
        choices=CompressionType.values, required=False, allow_null=True, allow_blank=True
    )
    compression_level = serializers.IntegerField(
        min_value=MIN_LEVEL, max_value=MAX_LEVEL, required=False, allow_null=True
    )
    quality_target = serializers.IntegerField(
        min_value=QUALITY_TARGET_MIN, max_value=QUALITY_TARGET_MAX, required=False, allow_null=True
    )
    convert = convert_field()
    preserve = preserve_field()
    resize = BoundSerializer(required=False, allow_null=True)

    class Meta:
        ref_name = "ImageRecycleParams"


class ImageAddSerializer(serializers.Serializer):
    """Documents the POST images body for the schema; `image_add_input` reads it."""

    file = serializers.FileField(required=False, help_text="The image or PDF (multipart)")
    url = serializers.CharField(required=False, help_text="Or an http(s) URL to download it from")
    params = serializers.CharField(
        required=False,
        help_text='JSON string: {"compression_type": "lossy"|"lossless"|"balanced"} or '
        '{"url": …, "params": {"compression_type": …}}',
    )

    class Meta:
        ref_name = "ImageRecycleImageAdd"


@dataclass(frozen=True, slots=True)
class ImageAddInput:
    upload: UploadedFile | None
    url: str | None
    options: SubmitOptions


def _params_object(raw: Any) -> dict[str, Any]:
    if raw in (None, ""):
        return {}
    if isinstance(raw, str):
        try:
            raw = jsonbody.loads(raw)
        except ValueError:
            raise ValidationFailed({"params": ["Must be a JSON object."]}) from None
    if raw in (None, "", []):  # the PHP client json_encodes an empty array as []
        return {}
    if not isinstance(raw, dict):
        raise ValidationFailed({"params": ["Must be a JSON object."]})
    return raw


def image_add_input(data: Any) -> ImageAddInput:
    """The upload, the URL and the options of a POST images body (form, multipart or JSON)."""
    params = _params_object(data.get("params"))
    url = data.get("url") or params.get("url")
    if isinstance(params.get("params"), (dict, str)):
        params = {**params, **_params_object(params["params"])}
    upload = data.get("file") or None
    if upload is not None and not isinstance(upload, UploadedFile):
        raise ValidationFailed({"file": ["Send the file as a multipart upload."]})
    if url is not None and (not isinstance(url, str) or len(url) > MAX_URL_CHARS):
        raise ValidationFailed({"url": [f"Must be a URL of at most {MAX_URL_CHARS} characters."]})
    if (upload is None) == (not url):
        raise ValidationFailed({"file": ["Send either a file or a url, not both or neither."]})
    if not isinstance(params.get("resize"), (dict, type(None))):  # a Crush.pics style list: not ours
        params = {key: value for key, value in params.items() if key != "resize"}
    if "preserve" not in params and isinstance(params.get("preserve_metas"), list):
        # the WordPress plugin's "Preserve selected" metadata, in its own names
        params = {
            **params,
            "preserve": [PRESERVE_METAS.get(str(name), name) for name in params["preserve_metas"]],
        }
    options = ParamsSerializer(
        data={key: params[key] for key in map(str, ParamsSerializer().fields) if key in params}
    )
    if not options.is_valid():
        raise ValidationFailed({"params": [_message(options.errors)]})
    bound = options.validated_data.get("resize") or {}
    return ImageAddInput(
        upload=upload,
        url=url or None,
        options=SubmitOptions(
            compression_type=options.validated_data.get("compression_type") or None,
            compression_level=options.validated_data.get("compression_level"),
            quality_target=options.validated_data.get("quality_target"),
            convert=options.validated_data.get("convert") or (),
            preserve=options.validated_data.get("preserve"),
            main_resize=_bound_resize(bound.get("width"), bound.get("height")),
        ),
    )


def _bound_resize(width: int | None, height: int | None) -> StyleRequest | None:
    """`params.resize` as the optimized image's resize: inside the box (`fit`), or one side bounded
    (`landscape`: the width, `portrait`: the height); the engine never enlarges."""
    if width is None and height is None:
        return None
    strategy = "fit" if width is not None and height is not None else "landscape" if width else "portrait"
    return StyleRequest(OptimizedImage.ORIGINAL_STYLE, strategy, width, height)


def _message(errors: dict[str, Any]) -> str:
    return " ".join(f"{field}: {sentence(messages)}" for field, messages in errors.items())


def ids_parse(raw: str) -> list[int]:
    """`1230,1231,1400` → the distinct ids in order; 400 when malformed, empty or more than ZIP_MAX_IDS."""
    parts = [part.strip() for part in raw.split(",") if part.strip()]
    if not parts or not all(_ASCII_ID.fullmatch(part) for part in parts):
        raise ValidationFailed({"ids": ["Must be a comma-separated list of image ids."]})
    ids = list(dict.fromkeys(int(part) for part in parts))
    if len(ids) > ZIP_MAX_IDS:
        raise ValidationFailed({"ids": [f"At most {ZIP_MAX_IDS} ids."]})
    return ids


# --- output


def download_url(stored_file: StoredFile | None, *, kind: str, base_url: str) -> str | None:
    """The file's download link; None once the file is gone."""
    if stored_file is None or stored_file.deleted_at is not None:
        return None
    return download_link(base_url, kind=kind, token=stored_file.token, filename=stored_file.filename)


def optimized_of(original: OriginalImage) -> OptimizedImage | None:
    """The full-size compressed image (style "original"), from the prefetched rows."""
    return next(
        (row for row in original.optimized_images.all() if row.style == OptimizedImage.ORIGINAL_STYLE), None
    )


class ImageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    filename = serializers.CharField()
    width = serializers.IntegerField(allow_null=True, help_text="null for PDFs")
    height = serializers.IntegerField(allow_null=True, help_text="null for PDFs")
    size_before = serializers.IntegerField(allow_null=True)
    size_after = serializers.IntegerField(allow_null=True)
    saved = serializers.FloatField(help_text="Fraction of size_before saved, 0–1")
    time = UtcTimestampField(help_text="When the image was received")
    origin_url = serializers.CharField(allow_null=True, help_text="The original, until expiration_date")
    optimized_url = serializers.CharField(allow_null=True)
    expiration_date = serializers.CharField(help_text="When the files are purged (CRUSH_RETENTION_DAYS)")

    class Meta:
        ref_name = "ImageRecycleImage"


def image_data(original: OriginalImage, *, base_url: str) -> dict[str, Any]:
    optimized = optimized_of(original)
    size_before = original.size
    size_after = optimized.size if optimized is not None else None
    saved = 0.0
    if size_before and size_after is not None:
        saved = round(max(0, size_before - size_after) / size_before, 4)
    return ImageSerializer(
        {
            "id": original.id,
            "filename": original.filename,
            "width": original.width,
            "height": original.height,
            "size_before": size_before,
            "size_after": size_after,
            "saved": saved,
            "time": original.created_at,
            "origin_url": download_url(original.file, kind="original", base_url=base_url),
            "optimized_url": download_url(
                optimized.file if optimized is not None else None, kind="optimized", base_url=base_url
            ),
            "expiration_date": iso_utc(original.expire_at),
        }
    ).data


class ImageListSerializer(serializers.Serializer):
    items = ImageSerializer(many=True)
    total = serializers.IntegerField()
    prev = PageLinkSerializer(allow_null=True)
    next = PageLinkSerializer(allow_null=True)

    class Meta:
        ref_name = "ImageRecycleImageList"
