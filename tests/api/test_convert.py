"""`convert`: next-generation outputs through the HTTP API, for the original and per resize style. The files
behind the links are decoded and scored here, independently of what the answer reports."""

from __future__ import annotations

import json
from typing import Any

import pytest
import pyvips
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import Account
from compression.engine import Format
from compression.engine.quality import ssimulacra2
from tests.api.test_compress import _download
from tests.compression.engine.test_quality_target import scene
from tests.compression.pipeline_support import gif_animated
from tests.imagerecycle.conftest import client_for

URL = "/v1/compress"


def _compress(api: Any, name: str, source: bytes, mime: str, **fields: Any) -> Any:
    upload = SimpleUploadedFile(name, source, content_type=mime)
    return api.post(URL, {"file": upload, **fields}, format="multipart")


def _ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.json()
    return response.json()["original_image"]


def _decode(data: bytes) -> pyvips.Image:
    animated = data[:3] == b"GIF" or data[8:12] == b"WEBP"
    return pyvips.Image.new_from_buffer(data, "", **({"n": -1} if animated else {}))


def test_a_jpeg_converted_to_webp_links_a_webp_named_so_that_reaches_the_floor(api: Any) -> None:
    source = scene().jpegsave_buffer(Q=95)

    original = _ok(_compress(api, "shop photo.jpg", source, "image/jpeg", convert="webp"))

    row = original["optimized_images"][0]
    data = _download(row["link"])
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    assert (row["file_type"], row["filename"]) == ("image/webp", "shop photo.webp")
    assert row["link"].endswith("/shop%20photo.webp") or row["link"].endswith("/shop photo.webp")
    assert original["convert"] == row["convert"] == ["webp"]
    assert [candidate["format"] for candidate in row["candidates"]] == ["webp"]
    assert row["candidates"][0]["size"] == row["size"] == len(data)
    assert ssimulacra2(_decode(source), _decode(data)) >= 79.0
    assert original["file_type"] == "image/jpeg"  # the original is what was uploaded


def test_a_list_returns_the_smallest_candidate_that_meets_the_floor(api: Any) -> None:
    source = scene().jpegsave_buffer(Q=95)

    original = _ok(_compress(api, "scene.jpg", source, "image/jpeg", convert="jpeg,webp,avif"))
    row = original["optimized_images"][0]

    sizes = {candidate["format"]: candidate["size"] for candidate in row["candidates"]}
    assert set(sizes) == {"jpeg", "webp", "avif"}
    assert all(candidate["ssimulacra2"] >= 80 for candidate in row["candidates"])
    smallest = min(sizes, key=lambda name: sizes[name])
    assert row["size"] == sizes[smallest]
    assert row["file_type"] == {"jpeg": "image/jpeg", "webp": "image/webp", "avif": "image/avif"}[smallest]
    assert _decode(_download(row["link"])).width == 480


def test_a_style_converts_on_its_own_and_alpha_becomes_its_background_in_jpeg(api: Any) -> None:
    image = scene(240, 180)
    with_alpha = image.bandjoin((image[0] > 128).ifthenelse(255, 0).cast("uchar"))
    source = with_alpha.pngsave_buffer()
    styles = [
        {
            "style": "card",
            "strategy": "fit",
            "width": 120,
            "height": 120,
            "convert": "jpeg",
            "background": "#000000",
        }
    ]

    original = _ok(_compress(api, "logo.png", source, "image/png", convert="webp", resize=json.dumps(styles)))

    main, card = original["optimized_images"]
    assert main["file_type"] == "image/webp" and _decode(_download(main["link"])).hasalpha()
    assert (card["file_type"], card["filename"], card["convert"]) == ("image/jpeg", "logo.jpg", ["jpeg"])
    flat = _decode(_download(card["link"]))
    assert (flat.width, flat.bands) == (120, 3)
    # Where the source was transparent, the black background shows through.
    transparent = (with_alpha[3] == 0).resize(0.5, kernel="nearest")
    dark = transparent.ifthenelse(flat.colourspace("b-w")[0], 0).avg() / max(transparent.avg() / 255, 1e-9)
    assert dark < 40, dark


def test_an_animated_gif_converted_to_webp_keeps_every_frame_and_its_timing(api: Any) -> None:
    source = gif_animated(frames=4)

    row = _ok(_compress(api, "anim.gif", source, "image/gif", convert="webp"))["optimized_images"][0]

    out = _decode(_download(row["link"]))
    assert row["file_type"] == "image/webp"
    assert out.get("n-pages") == 4
    assert list(out.get("delay")) == [100] * 4


def test_jpeg_is_refused_for_lossless_with_a_422(api: Any) -> None:
    response = _compress(
        api, "scene.png", scene().pngsave_buffer(), "image/png", convert="jpeg", compression_type="lossless"
    )

    assert response.status_code == 422
    assert "convert" in response.json()["message"]


def test_lossless_conversion_keeps_every_pixel(api: Any) -> None:
    source = scene(200, 150).pngsave_buffer()

    row = _ok(_compress(api, "scene.png", source, "image/png", convert="webp", compression_type="lossless"))[
        "optimized_images"
    ][0]

    out = _decode(_download(row["link"]))
    assert row["file_type"] == "image/webp"
    assert (out - _decode(source)).abs().max() == 0


@pytest.mark.parametrize("value", ["bmp", "webp,tiff", json.dumps([1, 2])])
def test_an_unknown_format_is_a_422_naming_convert(api: Any, value: str) -> None:
    response = _compress(api, "scene.jpg", scene().jpegsave_buffer(), "image/jpeg", convert=value)

    assert response.status_code == 422
    assert "convert" in response.json()["message"]


def test_the_imagerecycle_surface_passes_convert_through_and_serves_the_webp(account: Account) -> None:
    client = client_for(account)
    upload = SimpleUploadedFile("scene.jpg", scene().jpegsave_buffer(Q=95), content_type="image/jpeg")

    params = json.dumps({"convert": "webp"})
    response = client.post("images", {"file": upload, "params": params}, multipart=True)

    assert response.status_code == 201, response.content
    image = response.json()
    assert image["optimized_url"].endswith(".webp")
    body = _download(image["optimized_url"])
    assert body[8:12] == b"WEBP"


def test_a_heic_upload_comes_back_as_a_web_format_named_after_it(api: Any) -> None:
    from tests.compression.engine.test_inputs import MAKERS

    source = MAKERS[Format.HEIC]()

    original = _ok(_compress(api, "IMG_0042.HEIC", source, "image/heic"))

    row = original["optimized_images"][0]
    data = _download(row["link"])
    assert original["file_type"] == "image/heic"
    assert row["file_type"] in ("image/jpeg", "image/webp", "image/avif")
    assert (
        row["filename"]
        == "IMG_0042." + {"image/jpeg": "jpg", "image/webp": "webp", "image/avif": "avif"}[row["file_type"]]
    )
    assert row["ssimulacra2"] >= 80
    assert (
        (_decode(data).width, _decode(data).height) == (original["width"], original["height"]) == (480, 360)
    )


def test_an_avif_upload_through_imagerecycle_stays_avif(account: Account) -> None:
    from tests.compression.engine.test_inputs import MAKERS

    client = client_for(account)
    source = MAKERS[Format.AVIF]()
    upload = SimpleUploadedFile("photo.avif", source, content_type="image/avif")

    response = client.post("images", {"file": upload}, multipart=True)

    assert response.status_code == 201, response.content
    body = _download(response.json()["optimized_url"])
    assert body[4:12] == b"ftypavif"
    assert len(body) <= len(source)


def test_a_jpeg_xl_conversion_decodes_and_reaches_the_floor(api: Any) -> None:
    from compression.engine import jxl

    source = scene().jpegsave_buffer(Q=95)

    row = _ok(_compress(api, "scene.jpg", source, "image/jpeg", convert="jxl"))["optimized_images"][0]

    data = _download(row["link"])
    assert (row["file_type"], row["filename"]) == ("image/jxl", "scene.jxl")
    assert data[:2] == b"\xff\x0a"  # a JPEG XL codestream
    assert ssimulacra2(_decode(source), jxl.decode(data)) >= 79.0
