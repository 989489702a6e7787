import io
import zlib

import numpy as np
import pikepdf
import pytest

from compression.engine import (
    CompressionType,
    CompressOptions,
    EncryptedPdf,
    EngineLimits,
    Format,
    InputTooLarge,
    compress,
    probe,
)
from compression.engine import pdf as pdf_module

LOSSLESS = CompressOptions(compression_type=CompressionType.LOSSLESS)
LOSSY = CompressOptions(compression_type=CompressionType.LOSSY, level=70)
BALANCED = CompressOptions(compression_type=CompressionType.BALANCED)
TEXT = "Hello Crush page"


def photo_pixels(width: int, height: int) -> bytes:
    """Smooth colour fields with grain, 8-bit RGB rows: a scanned photo."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    rgb = np.stack(
        [128 + 90 * np.sin(x / 41.0), 128 + 80 * np.cos(y / 29.0), 128 + 60 * np.sin((x + y) / 57.0)], axis=-1
    )
    rgb += rng.normal(0, 10, rgb.shape)
    return np.clip(rgb, 0, 255).astype(np.uint8).tobytes()


def document(pages: int = 2, image_px: tuple[int, int] | None = None, **save: object) -> bytes:
    """Pages with a line of text each; with ``image_px``, page 1 also draws a Flate RGB image of
    that many pixels on a 3 x 2 inch area (far above 150 dpi)."""
    pdf = pikepdf.new()
    font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
        )
    )
    for number in range(1, pages + 1):
        resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
        content = f"BT /F1 18 Tf 72 720 Td ({TEXT} {number}) Tj ET\n"
        if image_px and number == 1:
            width, height = image_px
            image = pikepdf.Stream(pdf, zlib.compress(photo_pixels(width, height), 1))
            image.Type = pikepdf.Name.XObject
            image.Subtype = pikepdf.Name.Image
            image.Width, image.Height = width, height
            image.ColorSpace = pikepdf.Name.DeviceRGB
            image.BitsPerComponent = 8
            image.Filter = pikepdf.Name.FlateDecode
            resources.XObject = pikepdf.Dictionary(Im1=image)
            content += "q 216 0 0 144 72 400 cm /Im1 Do Q\n"
        page = pikepdf.Page(
            pikepdf.Dictionary(
                Type=pikepdf.Name.Page,
                MediaBox=[0, 0, 612, 792],
                Resources=resources,
                Contents=pdf.make_stream(content.encode()),
            )
        )
        pdf.pages.append(page)
    out = io.BytesIO()
    pdf.save(out, **save)
    return out.getvalue()


def texts(data: bytes) -> list[str]:
    with pikepdf.open(io.BytesIO(data)) as pdf:
        found = []
        for page in pdf.pages:
            for operands, operator in pikepdf.parse_content_stream(page):
                if str(operator) == "Tj":
                    found.append(str(operands[0]))
        return found


def page_count(data: bytes) -> int:
    with pikepdf.open(io.BytesIO(data)) as pdf:
        return len(pdf.pages)


@pytest.mark.parametrize("options", [LOSSLESS, LOSSY, BALANCED], ids=["lossless", "lossy", "balanced"])
def test_text_and_page_count_survive(options: CompressOptions) -> None:
    source = document(pages=3, image_px=(300, 200))

    result = compress(source, options=options)

    assert result.format is Format.PDF
    assert (result.width, result.height) == (None, None)
    assert len(result.data) <= len(source)
    assert page_count(result.data) == 3
    assert texts(result.data) == [f"{TEXT} {n}" for n in (1, 2, 3)]


@pytest.mark.parametrize("options", [LOSSY, BALANCED], ids=["lossy", "balanced"])
def test_an_image_heavy_pdf_gets_much_smaller(options: CompressOptions) -> None:
    source = document(pages=1, image_px=(1200, 800))

    result = compress(source, options=options)

    assert len(result.data) < len(source) // 2
    assert page_count(result.data) == 1
    with pikepdf.open(io.BytesIO(result.data)) as pdf:
        image = pdf.pages[0].Resources.XObject.Im1
        assert int(image.Width) <= 1200 and int(image.Height) <= 800
    assert texts(result.data) == [f"{TEXT} 1"]


def test_lossless_keeps_image_pixels() -> None:
    source = document(pages=1, image_px=(200, 100))

    result = compress(source, options=LOSSLESS)

    with pikepdf.open(io.BytesIO(result.data)) as pdf:
        image = pikepdf.PdfImage(pdf.pages[0].Resources.XObject.Im1)
        assert (image.width, image.height) == (200, 100)
        assert image.read_bytes() == photo_pixels(200, 100)


@pytest.mark.parametrize("user_password", ["secret", ""])
def test_an_encrypted_pdf_is_refused(user_password: str) -> None:
    source = document(pages=1, encryption=pikepdf.Encryption(owner="owner", user=user_password))

    with pytest.raises(EncryptedPdf):
        compress(source, options=LOSSLESS)


@pytest.mark.parametrize(
    "user_password",
    [
        "secret",
        "",
    ],
)
def test_probe_refuses_an_encrypted_pdf(user_password: str) -> None:
    source = document(pages=1, encryption=pikepdf.Encryption(owner="owner", user=user_password))

    with pytest.raises(EncryptedPdf):
        probe(source, limits=EngineLimits())


def test_too_many_pages_are_refused() -> None:
    source = document(pages=6)

    with pytest.raises(InputTooLarge):
        compress(source, options=LOSSLESS, limits=EngineLimits(max_pdf_pages=5))
    with pytest.raises(InputTooLarge):
        probe(source, limits=EngineLimits(max_pdf_pages=5))
    assert probe(source, limits=EngineLimits(max_pdf_pages=6)).pages == 6


def test_a_deflate_bomb_stream_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    cap = 4 * 2**20
    monkeypatch.setattr(pdf_module, "MAX_STREAM_DECODED_BYTES", cap)  # the real cap takes seconds to build
    bomb = zlib.compress(bytes(cap + 2**20), 9)
    pdf = pikepdf.open(io.BytesIO(document(pages=1)))
    stream = pikepdf.Stream(pdf, b"")
    stream.write(bomb, filter=pikepdf.Name.FlateDecode)
    pdf.pages[0].obj.PieceInfo = pdf.make_indirect(stream)
    out = io.BytesIO()
    pdf.save(out)
    source = out.getvalue()

    assert len(source) < 64 * 2**10
    with pytest.raises(InputTooLarge):
        compress(source, options=LOSSY)
