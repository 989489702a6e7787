"""`convert` and `preserve` through the HTTP API on real files (``tests/files``): a camera photo in each
output format comes back decodable, reaches the quality floor when scored here, keeps the metadata asked
for and drops the rest (the GPS position above all); an animated screen recording becomes an animated
WebP or AVIF with every frame and its timing."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import imagecodecs
import numpy as np
import PIL.Image
import pytest
import pyvips
from django.core.files.uploadedfile import SimpleUploadedFile

from compression.engine.quality import ssimulacra2
from tests.api.test_compress import _download
from tests.compression.engine.test_metadata_preserve import exif_fields

FILES = Path(__file__).parent.parent / "files"
PHOTO = (FILES / "camera-photo-gps.jpg").read_bytes()
RECORDING = (FILES / "screen-recording.gif").read_bytes()
SIGNATURES = {
    "jpeg": lambda data: data[:3] == b"\xff\xd8\xff",
    "png": lambda data: data[:8] == b"\x89PNG\r\n\x1a\n",
    "webp": lambda data: data[:4] == b"RIFF" and data[8:12] == b"WEBP",
    "avif": lambda data: data[4:12] in (b"ftypavif", b"ftypavis"),
    "jxl": lambda data: data[:2] == b"\xff\x0a" or data[4:8] == b"JXL ",
}


def _pixels(data: bytes) -> pyvips.Image:
    if SIGNATURES["jxl"](data):  # libvips here has no JPEG XL loader
        array = np.ascontiguousarray(imagecodecs.jpegxl_decode(data))
        return pyvips.Image.new_from_array(array, interpretation="srgb")
    return pyvips.Image.new_from_buffer(data, "").autorot()


def _compress(api: Any, name: str = "beach walk.jpg", data: bytes = PHOTO, **fields: Any) -> dict[str, Any]:
    upload = SimpleUploadedFile(name, data, content_type="image/jpeg")
    response = api.post("/v1/compress", {"file": upload, **fields}, format="multipart")
    assert response.status_code == 200, response.json()
    return response.json()["original_image"]["optimized_images"][0]


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp", "avif", "jxl"])
def test_each_format_decodes_reaches_the_floor_and_keeps_only_copyright_and_creation(
    api: Any, fmt: str
) -> None:
    row = _compress(api, convert=fmt, compression_type="balanced", preserve="copyright,creation")

    data = _download(row["link"])
    assert SIGNATURES[fmt](data), data[:16]
    assert row["filename"] == f"beach walk.{'jpg' if fmt == 'jpeg' else fmt}"
    assert len(data) == row["size"]
    if fmt in ("jpeg", "avif"):  # a camera JPEG re-encoded: lossless PNG and WebP at the floor are larger
        assert row["size"] < len(PHOTO)
    assert ssimulacra2(_pixels(PHOTO), _pixels(data)) >= 79.0  # the floor, scored independently
    assert row["quality_target"] == 80 and row["ssimulacra2"] >= 80
    if fmt != "jxl":  # JPEG XL outputs carry no metadata
        kept = exif_fields(data)
        assert "2012" in kept["Copyright"] and "VENKATARAMANAN" in kept["Artist"]
        assert "2012:08:03 12:24:49" in kept["DateTimeOriginal"]
        assert not any(name.startswith("GPS") for name in kept), kept
        assert "Make" not in kept and "Model" not in kept


def test_auto_picks_the_smallest_candidate_and_location_is_kept_only_when_asked(api: Any) -> None:
    row = _compress(api, convert="auto", compression_type="balanced", preserve="location")

    sizes = {c["format"]: c["size"] for c in row["candidates"]}
    assert set(sizes) == {"jpeg", "webp", "avif"} and None not in sizes.values(), row["candidates"]
    assert row["size"] == min(sizes.values())
    data = _download(row["link"])
    assert row["file_type"] == f"image/{min(sizes, key=sizes.__getitem__)}"
    kept = exif_fields(data)
    assert {"GPSLatitude", "GPSLongitude"} <= kept.keys()
    assert "Copyright" not in kept and "Make" not in kept


def _played_frames(data: bytes) -> tuple[list[np.ndarray], list[int]]:
    """Every frame as shown (RGBA, composited by Pillow) and its duration in milliseconds."""
    frames, durations = [], []
    with PIL.Image.open(io.BytesIO(data)) as animation:
        for index in range(getattr(animation, "n_frames", 1)):
            animation.seek(index)
            frames.append(np.asarray(animation.convert("RGBA")))
            durations.append(animation.info["duration"])
    return frames, durations


@pytest.mark.parametrize("fmt", ["webp", "avif"])
def test_an_animated_gif_keeps_every_frame_its_timing_and_the_floor(api: Any, fmt: str) -> None:
    row = _compress(api, "monitor.gif", RECORDING, convert=fmt, compression_type="balanced")

    data = _download(row["link"])
    assert SIGNATURES[fmt](data), data[:16]
    assert row["file_type"] == f"image/{fmt}" and row["filename"] == f"monitor.{fmt}"
    source, source_ms = _played_frames(RECORDING)
    output, output_ms = _played_frames(data)
    assert len(source) == 62 and source_ms == [100] * 62
    assert sum(output_ms) == sum(source_ms)  # identical neighbours may be merged, never the timing
    for index in (0, 20, 41, 61):  # the frame shown at each source frame's time, scored here
        shown = _shown_at(output_ms, index * 100)
        assert ssimulacra2(_vips(source[index]), _vips(output[shown])) >= 75.0, (index, shown)


def test_an_animation_is_refused_lossless_avif_with_a_422(api: Any) -> None:
    response = api.post(
        "/v1/compress",
        {
            "file": SimpleUploadedFile("monitor.gif", RECORDING, content_type="image/gif"),
            "convert": "avif",
            "compression_type": "lossless",
        },
        format="multipart",
    )

    assert response.status_code == 422, response.json()
    assert "WebP" in response.json()["formatted_message"]


def _shown_at(durations: list[int], time_ms: int) -> int:
    """The index of the frame on screen ``time_ms`` after the start."""
    ends = np.cumsum(durations)
    return int(np.searchsorted(ends, time_ms, side="right"))


def _vips(pixels: np.ndarray) -> pyvips.Image:
    return pyvips.Image.new_from_array(np.ascontiguousarray(pixels), interpretation="srgb")
