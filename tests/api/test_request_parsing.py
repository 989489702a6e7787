"""Input parsing of the compress endpoints: the same fields from JSON, multipart and urlencoded bodies."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test.client import MULTIPART_CONTENT, encode_multipart

from compression.api.parsing import form_fields, resize_from_pairs
from compression.api.serializers import errors_flat
from crush.lib.errors import ValidationFailed
from tests.compression.pipeline_support import jpeg

URL = "/v1/original_images"
IMAGE_URL = "http://127.0.0.1:9/photo.jpg"  # accepted, never fetched: on-commit callbacks do not run here


# --- pure parsing -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        pytest.param(
            [("", "style", "thumb"), ("", "width", "320"), ("", "height", "100"), ("", "style", "pico")],
            [{"style": "thumb", "width": "320", "height": "100"}, {"style": "pico"}],
            id="rails-repeated-key-starts-next",
        ),
        pytest.param(
            [("", "width", "320"), ("", "style", "thumb"), ("", "width", "80"), ("", "style", "pico")],
            [{"width": "320", "style": "thumb"}, {"width": "80", "style": "pico"}],
            id="rails-any-key-order",
        ),
        pytest.param(
            [("1", "style", "pico"), ("0", "style", "thumb"), ("0", "width", "320"), ("1", "width", "80")],
            [{"style": "thumb", "width": "320"}, {"style": "pico", "width": "80"}],
            id="php-indexed",
        ),
        pytest.param(
            [("", "style", "a"), ("", "height", ""), ("", "width", "null")],
            [{"style": "a", "height": None, "width": None}],
            id="empty-and-null-mean-omitted",
        ),
        pytest.param([], [], id="nothing"),
    ],
)
def test_resize_from_pairs_builds_style_objects(
    pairs: list[tuple[str, str, str]], expected: list[dict[str, Any]]
) -> None:
    assert resize_from_pairs(pairs) == expected


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        pytest.param(
            [("compression_level", "40"), ("compression_level", "65")],
            {"compression_level": "65"},
            id="last-wins",
        ),
        pytest.param([("origin", ""), ("compression_type", "null")], {}, id="blank-is-omitted"),
        pytest.param(
            [("resize", '[{"style": "thumb", "width": 10}]')],
            {"resize": [{"style": "thumb", "width": 10}]},
            id="resize-json-string",
        ),
        pytest.param(
            [("resize", '{"style": "thumb", "width": 10}')],
            {"resize": [{"style": "thumb", "width": 10}]},
            id="resize-json-single-object",
        ),
        pytest.param(
            [("resize[][style]", "t"), ("resize[][width]", "9"), ("unknown", "x")],
            {"resize": [{"style": "t", "width": "9"}], "unknown": "x"},
            id="rails-resize",
        ),
    ],
)
def test_form_fields_reads_like_json(pairs: list[tuple[str, str]], expected: dict[str, Any]) -> None:
    assert form_fields(pairs) == expected


@pytest.mark.parametrize(
    "pairs",
    [
        pytest.param([("resize", "[{not json")], id="bad-json"),
        pytest.param([("resize", "[]"), ("resize[][style]", "t")], id="both-forms"),
    ],
)
def test_form_fields_rejects_unreadable_resize(pairs: list[tuple[str, str]]) -> None:
    with pytest.raises(ValidationFailed) as caught:
        form_fields(pairs)

    assert list(caught.value.message) == ["resize"]


def test_errors_flat_puts_nested_errors_under_their_field() -> None:
    errors = {"resize": {1: {"width": ["A valid integer is required."]}}, "origin": ["Too long."]}

    flat = errors_flat(errors)

    assert flat == {"resize": ["resize[1].width: A valid integer is required."], "origin": ["Too long."]}


# --- the same request in every encoding ------------------------------------------------------------


FIELDS = {
    "image_url": IMAGE_URL,
    "compression_type": "lossy",
    "compression_level": "65",
    "strip_tags": "false",
    "origin": "wp",
}
STYLES = [
    {"style": "thumb", "strategy": "crop", "width": "320", "height": "100"},
    {"style": "pico", "strategy": "landscape", "width": "80"},
]
EXPECTED_STYLES = [
    ("original", None, None, None),
    ("thumb", "crop", 320, 100),
    ("pico", "landscape", 80, None),
]


def _rails_pairs() -> list[tuple[str, str]]:
    pairs = list(FIELDS.items())
    for style in STYLES:
        pairs += [(f"resize[][{key}]", value) for key, value in style.items()]
    return pairs


def _styles(body: dict[str, Any]) -> list[tuple[Any, ...]]:
    rows = body["original_image"]["optimized_images"]
    return [(row["style"], row["strategy"], row["width"], row["height"]) for row in rows]


def _post_json(api: Any) -> Any:
    return api.post(URL, {**FIELDS, "resize": STYLES}, format="json")


def _post_json_numbers(api: Any) -> Any:
    body = {**FIELDS, "compression_level": 65, "strip_tags": False, "resize": STYLES}
    return api.post(URL, json.dumps(body), content_type="application/json")


def _post_urlencoded_rails(api: Any) -> Any:
    return api.post(URL, urlencode(_rails_pairs()), content_type="application/x-www-form-urlencoded")


def _post_urlencoded_indexed(api: Any) -> Any:
    pairs = list(FIELDS.items())
    for index, style in enumerate(STYLES):
        pairs += [(f"resize[{index}][{key}]", value) for key, value in style.items()]
    return api.post(URL, urlencode(pairs), content_type="application/x-www-form-urlencoded")


def _post_urlencoded_json_field(api: Any) -> Any:
    body = urlencode({**FIELDS, "resize": json.dumps(STYLES)})
    return api.post(URL, body, content_type="application/x-www-form-urlencoded")


def _post_multipart_rails(api: Any) -> Any:
    # encode_multipart groups a dict's repeated keys, so the parts are written in order by hand.
    boundary = "BoUnDaRy"
    lines: list[bytes] = []
    for key, value in _rails_pairs():
        lines += [
            f"--{boundary}".encode(),
            f'Content-Disposition: form-data; name="{key}"'.encode(),
            b"",
            value.encode(),
        ]
    lines += [f"--{boundary}--".encode(), b""]
    return api.post(URL, b"\r\n".join(lines), content_type=f"multipart/form-data; boundary={boundary}")


def _post_multipart_json_field(api: Any) -> Any:
    return api.post(URL, {**FIELDS, "resize": json.dumps(STYLES)}, format="multipart")


def _post_curl_json_header_multipart(api: Any) -> Any:
    # curl -H 'Content-Type: application/json' -F … (the Crush.pics docs' example) labels multipart as JSON.
    body = encode_multipart("XyZ", {**FIELDS, "resize": json.dumps(STYLES)})
    return api.post(URL, body, content_type="application/json; boundary=XyZ")


def _post_json_with_bracket_keys(api: Any) -> Any:
    members = [f"{json.dumps(key)}: {json.dumps(value)}" for key, value in _rails_pairs()]
    return api.post(URL, "{" + ", ".join(members) + "}", content_type="application/json")


@pytest.mark.parametrize(
    "post",
    [
        _post_json,
        _post_json_numbers,
        _post_urlencoded_rails,
        _post_urlencoded_indexed,
        _post_urlencoded_json_field,
        _post_multipart_rails,
        _post_multipart_json_field,
        _post_curl_json_header_multipart,
        _post_json_with_bracket_keys,
    ],
)
def test_compress_input_same_fields_in_every_encoding(api: Any, post: Any) -> None:
    response = post(api)

    assert response.status_code == 200, response.json()
    original = response.json()["original_image"]
    assert original["status"] == "enqueued"
    assert (original["compression_type"], original["compression_level"], original["origin"]) == (
        "lossy",
        65,
        "wp",
    )
    assert _styles(response.json()) == EXPECTED_STYLES
    from compression.models import OriginalImage

    assert OriginalImage.objects.get(pk=original["id"]).strip_tags is False


def test_compress_input_defaults_origin_and_ignores_unknown_fields(api: Any) -> None:
    response = api.post(URL, {"image_url": IMAGE_URL, "wat": "1", "resize": []}, format="json")

    assert response.status_code == 200
    original = response.json()["original_image"]
    assert original["origin"] == "url"
    assert [row["style"] for row in original["optimized_images"]] == ["original"]


def test_compress_input_upload_origin_defaults_to_file(api: Any) -> None:
    response = api.post(URL, {"file": _upload()}, format="multipart")

    assert response.status_code == 200
    assert response.json()["original_image"]["origin"] == "file"


def _upload() -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("photo.jpg", jpeg(), content_type="image/jpeg")


# --- validation: 422 {"message": {field: [...]}} -----------------------------------------------------

ELEVEN_STYLES = [{"style": f"s{index}", "width": 10, "height": 10} for index in range(11)]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({"compression_level": 0}, "compression_level", id="level-0"),
        pytest.param({"compression_level": "101"}, "compression_level", id="level-101"),
        pytest.param({"compression_level": "high"}, "compression_level", id="level-text"),
        pytest.param({"compression_level": True}, "compression_level", id="level-bool"),
        pytest.param({"compression_type": "extreme"}, "compression_type", id="unknown-type"),
        pytest.param({"strip_tags": "maybe"}, "strip_tags", id="bad-boolean"),
        pytest.param({"origin": "x" * 33}, "origin", id="origin-too-long"),
        pytest.param({"resize": [{"style": "a", "strategy": "zoom", "width": 9}]}, "resize", id="strategy"),
        pytest.param({"resize": [{"style": "original", "width": 9, "height": 9}]}, "resize", id="reserved"),
        pytest.param({"resize": [{"width": 9, "height": 9}]}, "resize", id="no-style-name"),
        pytest.param({"resize": [{"style": "", "width": 9, "height": 9}]}, "resize", id="blank-name"),
        pytest.param({"resize": [{"style": "a\nb", "width": 9, "height": 9}]}, "resize", id="control-char"),
        pytest.param({"resize": [{"style": "x" * 65, "width": 9, "height": 9}]}, "resize", id="long-name"),
        pytest.param(
            {"resize": [{"style": "a", "width": 9, "height": 9}, {"style": "a", "width": 5, "height": 5}]},
            "resize",
            id="duplicate-names",
        ),
        pytest.param({"resize": ELEVEN_STYLES}, "resize", id="eleven-styles"),
        pytest.param({"resize": [{"style": "a", "width": -1, "height": 9}]}, "resize", id="negative-width"),
        pytest.param({"resize": [{"style": "a", "width": "wide"}]}, "resize", id="width-text"),
        pytest.param({"resize": [{"style": "a", "strategy": "exact", "width": 9}]}, "resize", id="missing-h"),
        pytest.param({"resize": "nope"}, "resize", id="resize-not-json"),
        pytest.param({"resize": 5}, "resize", id="resize-number"),
    ],
)
def test_compress_input_rejects_invalid_fields_with_422(api: Any, body: dict[str, Any], field: str) -> None:
    response = api.post(URL, {"image_url": IMAGE_URL, **body}, format="json")

    assert response.status_code == 422, response.json()
    message = response.json()["message"]
    assert list(message) == [field]
    assert all(isinstance(text, str) and text for text in message[field])


@pytest.mark.parametrize(
    ("body", "format"),
    [
        pytest.param({}, "json", id="neither"),
        pytest.param({"image_url": ""}, "json", id="blank-url"),
        pytest.param({"file": "not-a-file.jpg"}, "json", id="file-as-text"),
        pytest.param({"image_url": IMAGE_URL, "file": "upload"}, "multipart", id="both"),
    ],
)
def test_compress_input_needs_exactly_one_of_file_and_image_url(
    api: Any, body: dict[str, Any], format: str
) -> None:
    if body.get("file") == "upload":
        body = {**body, "file": _upload()}

    response = api.post(URL, body, format=format)

    assert response.status_code == 422
    assert "file" in response.json()["message"]


def test_compress_input_form_errors_have_the_same_shape(api: Any) -> None:
    body = urlencode([("image_url", IMAGE_URL), ("resize[][style]", "a"), ("resize[][width]", "wide")])

    response = api.post(URL, body, content_type="application/x-www-form-urlencoded")

    assert response.status_code == 422
    assert response.json()["message"] == {"resize": ["resize[0].width: A valid integer is required."]}


def test_compress_input_multipart_content_type_without_boundary_is_refused(api: Any) -> None:
    response = api.post(URL, b"whatever", content_type=MULTIPART_CONTENT)

    assert response.status_code in (400, 422)
    assert "message" in response.json()
