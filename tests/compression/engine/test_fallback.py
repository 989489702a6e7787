"""compress() never fails a file that decodes because a codec broke: it falls back and says so."""

from __future__ import annotations

import io
import logging

import pikepdf
import pytest
import pyvips

from compression.engine import (
    CompressionType,
    CompressOptions,
    CorruptInput,
    EngineError,
    Format,
    InvalidSpec,
    ResizeSpec,
    ResizeStrategy,
    compress,
    pipeline,
)
from compression.engine import resize as resize_module

LOSSY = CompressOptions(compression_type=CompressionType.LOSSY, level=60)


def photo(width: int, height: int) -> pyvips.Image:
    x = pyvips.Image.xyz(width, height)
    return (
        (x[0] * 255 / width)
        .cast("uchar")
        .bandjoin([(x[1] * 255 / height).cast("uchar"), ((x[0] + x[1]) * 3 % 256).cast("uchar")])
        .copy(interpretation="srgb")
    )


def animated_gif(width: int = 40, height: int = 30, frames: int = 3) -> bytes:
    strip = pyvips.Image.arrayjoin(
        [photo(width, height).rot180() if i % 2 else photo(width, height) for i in range(frames)], across=1
    ).copy()
    strip.set_type(pyvips.GValue.gint_type, "page-height", height)
    strip.set_type(pyvips.GValue.array_int_type, "delay", [80] * frames)
    return strip.gifsave_buffer()


def small_pdf() -> bytes:
    document = pikepdf.new()
    document.add_blank_page(page_size=(200, 150))
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def broken(*args: object, **kwargs: object) -> None:
    raise RuntimeError("an optimizer bug")


def break_codec(monkeypatch: pytest.MonkeyPatch, fmt: Format, replacement=broken) -> None:
    """The pipeline's codec for ``fmt`` replaced (an optimizer bug, or an engine refusal)."""
    if fmt in pipeline.RASTER_CODECS:
        monkeypatch.setitem(pipeline.RASTER_CODECS, fmt, replacement)
    else:  # the document formats' codecs: compress_pdf, compress_svg
        monkeypatch.setattr(getattr(pipeline, fmt.value), f"compress_{fmt.value}", replacement)


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        (photo(120, 80).jpegsave_buffer(Q=90), Format.JPEG),
        (photo(120, 80).pngsave_buffer(), Format.PNG),
        (animated_gif(), Format.GIF),
        (small_pdf(), Format.PDF),
    ],
)
def test_compress_keeps_the_original_when_the_codec_fails_on_a_file_that_decodes(
    data: bytes, fmt: Format, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    # given
    break_codec(monkeypatch, fmt)

    # when
    with caplog.at_level(logging.ERROR, logger="compression.engine.pipeline"):
        result = compress(data, options=LOSSY)

    # then
    assert result.data == data
    assert result.unchanged is True
    assert result.format is fmt
    assert result.warning and "original is returned unchanged" in result.warning
    assert "an optimizer bug" in caplog.text  # the traceback is logged


def test_compress_reports_no_warning_when_the_codec_works() -> None:
    result = compress(photo(120, 80).jpegsave_buffer(Q=90), options=LOSSY)

    assert result.warning is None


def test_compress_renders_a_plain_resize_when_the_codec_fails_on_a_resize_style(monkeypatch) -> None:
    # given
    data = photo(300, 200).jpegsave_buffer(Q=90)
    break_codec(monkeypatch, Format.JPEG)

    # when
    result = compress(
        data, options=LOSSY, resize=ResizeSpec(strategy=ResizeStrategy.CROP, width=50, height=50)
    )

    # then
    image = pyvips.Image.new_from_buffer(result.data, "")
    assert image.get("vips-loader") == "jpegload_buffer"
    assert (image.width, image.height) == (result.width, result.height) == (50, 50)
    assert result.unchanged is False
    assert result.warning and "plain resize" in result.warning


def test_compress_resizes_every_frame_of_an_animation_in_the_fallback(monkeypatch) -> None:
    # given
    break_codec(monkeypatch, Format.GIF)

    # when
    result = compress(
        animated_gif(80, 60, 4),
        options=LOSSY,
        resize=ResizeSpec(strategy=ResizeStrategy.FIT, width=40, height=40),
    )

    # then
    image = pyvips.Image.new_from_buffer(result.data, "", n=-1)
    assert image.get("n-pages") == 4
    assert (image.width, image.get("page-height")) == (40, 30)
    assert result.warning is not None


def test_compress_keeps_the_original_when_a_resize_style_does_not_change_the_size(monkeypatch) -> None:
    data = photo(40, 30).pngsave_buffer()
    break_codec(monkeypatch, Format.PNG)

    result = compress(
        data, options=LOSSY, resize=ResizeSpec(strategy=ResizeStrategy.FIT, width=400, height=400)
    )

    assert result.data == data
    assert (result.width, result.height) == (40, 30)
    assert result.warning is not None


def test_compress_fails_the_style_cleanly_when_the_plain_resize_fails_too(monkeypatch) -> None:
    # given
    break_codec(monkeypatch, Format.JPEG)
    monkeypatch.setattr(resize_module, "resize_image", broken)
    monkeypatch.setattr("compression.engine.pipeline.resize_image", broken)

    # when / then
    with pytest.raises(EngineError, match="could not be rendered"):
        compress(
            photo(300, 200).jpegsave_buffer(),
            options=LOSSY,
            resize=ResizeSpec(strategy=ResizeStrategy.FIT, width=50, height=50),
        )


def test_compress_refuses_a_file_that_does_not_decode_instead_of_falling_back(monkeypatch) -> None:
    # given: a JPEG whose body is cut (the header still reads)
    data = photo(400, 300).jpegsave_buffer(Q=95)
    break_codec(monkeypatch, Format.JPEG)

    # when / then
    with pytest.raises(CorruptInput):
        compress(data[: len(data) // 2], options=LOSSY)


def test_compress_lets_engine_errors_through_unchanged(monkeypatch) -> None:
    def refuses(*args: object, **kwargs: object) -> None:
        raise InvalidSpec("nope")

    break_codec(monkeypatch, Format.JPEG, refuses)

    with pytest.raises(InvalidSpec, match="nope"):
        compress(photo(60, 40).jpegsave_buffer(), options=LOSSY)


SAFE_SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'
)
ACTIVE_SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>'


def test_compress_keeps_a_harmless_svg_when_its_codec_fails(monkeypatch) -> None:
    break_codec(monkeypatch, Format.SVG)

    result = compress(SAFE_SVG, options=LOSSY)

    assert result.data == SAFE_SVG
    assert result.warning is not None


def test_compress_never_hands_back_an_svg_with_active_content(monkeypatch) -> None:
    break_codec(monkeypatch, Format.SVG)

    with pytest.raises(EngineError) as raised:
        compress(ACTIVE_SVG, options=LOSSY)

    assert raised.value.message == "The SVG could not be processed."
