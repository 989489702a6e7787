import io
import os
import shutil
import subprocess
import tempfile
import zlib
from typing import Any, Literal

import numpy as np
import pikepdf
import pytest
import pyvips

from compression.engine import (
    CompressionType,
    CompressOptions,
    CorruptInput,
    EncryptedPdf,
    EngineLimits,
    Format,
    InputTooLarge,
    compress,
    pdf_guard,
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


def document(
    pages: int = 2, image_px: tuple[int, int] | None = None, jpeg_quality: int | None = None, **save: Any
) -> bytes:
    """Pages with a line of text each; with ``image_px``, page 1 also draws an RGB image of that
    many pixels on a 3 x 2 inch area (far above 150 dpi): Flate, or a JPEG at ``jpeg_quality``."""
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
            pixels = photo_pixels(width, height)
            if jpeg_quality is None:
                image = pikepdf.Stream(pdf, zlib.compress(pixels, 1))
                image.Filter = pikepdf.Name.FlateDecode
            else:
                photo = pyvips.Image.new_from_memory(pixels, width, height, 3, "uchar")
                image = pikepdf.Stream(pdf, photo.jpegsave_buffer(Q=jpeg_quality, keep="none"))
                image.Filter = pikepdf.Name.DCTDecode
            image.Type = pikepdf.Name.XObject
            image.Subtype = pikepdf.Name.Image
            image.Width, image.Height = width, height
            image.ColorSpace = pikepdf.Name.DeviceRGB
            image.BitsPerComponent = 8
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
            for instruction in pikepdf.parse_content_stream(page, "Tj"):
                found.append(str(instruction.operands[0]))
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


@pytest.mark.parametrize("options", [LOSSY, BALANCED], ids=["lossy", "balanced"])
def test_a_jpeg_image_in_a_pdf_goes_through_the_jpeg_codec(options: CompressOptions) -> None:
    source = document(pages=1, image_px=(1200, 800), jpeg_quality=98)

    result = compress(source, options=options)

    assert result.warning is None
    assert len(result.data) < len(source) // 2
    with pikepdf.open(io.BytesIO(result.data)) as pdf:
        image = pdf.pages[0].Resources.XObject.Im1
        assert image.Filter == pikepdf.Name.DCTDecode
        assert int(image.Width) < 1200 and int(image.Height) < 800


def test_lossless_keeps_image_pixels() -> None:
    source = document(pages=1, image_px=(200, 100))

    result = compress(source, options=LOSSLESS)

    with pikepdf.open(io.BytesIO(result.data)) as pdf:
        stream = pdf.pages[0].Resources.XObject.Im1
        assert isinstance(stream, pikepdf.Stream)
        image = pikepdf.PdfImage(stream)
        assert (image.width, image.height) == (200, 100)
        assert image.read_bytes() == photo_pixels(200, 100)


def test_a_pdf_that_needs_a_password_is_refused_with_a_clear_message() -> None:
    source = document(pages=1, encryption=pikepdf.Encryption(owner="owner", user="secret"))

    with pytest.raises(EncryptedPdf) as refused:
        compress(source, options=LOSSLESS)
    with pytest.raises(EncryptedPdf):
        probe(source, limits=EngineLimits())

    assert "needs a password to open" in refused.value.message


def test_a_pdf_encrypted_by_an_unknown_security_handler_is_refused_with_a_clear_message() -> None:
    source = document(pages=1, encryption=pikepdf.Encryption(owner="owner", user=""))
    source = source.replace(b"/Filter /Standard", b"/Filter /Unknown1")  # same length: offsets hold

    with pytest.raises(EncryptedPdf) as refused:
        compress(source, options=LOSSLESS)

    assert "encrypted with a method that cannot be read" in refused.value.message


OWNER_ONLY = pikepdf.Permissions(extract=False, print_lowres=False, print_highres=False, modify_other=False)


@pytest.mark.parametrize(
    ("revision", "aes"), [(3, False), (4, True), (6, True)], ids=["rc4", "aes128", "aes256"]
)
@pytest.mark.parametrize("options", [LOSSLESS, BALANCED], ids=["lossless", "balanced"])
def test_an_owner_password_pdf_is_compressed_and_keeps_its_permissions(
    revision: Literal[3, 4, 6], aes: bool, options: CompressOptions
) -> None:
    encryption = pikepdf.Encryption(
        owner="owner", user="", R=revision, aes=aes, metadata=aes, allow=OWNER_ONLY
    )
    source = document(pages=2, image_px=(600, 400), encryption=encryption)
    with pikepdf.open(io.BytesIO(source)) as original:
        permissions = original.allow

    result = compress(source, options=options)

    assert not result.unchanged and len(result.data) < len(source)
    assert probe(source, limits=EngineLimits()).pages == 2
    with pikepdf.open(io.BytesIO(result.data), attempt_recovery=False) as pdf:  # no password needed
        assert pdf.is_encrypted
        assert pdf.allow == permissions
        assert not pdf.allow.extract and not pdf.allow.print_highres
        assert pdf.encryption.R >= 4
        assert not pdf.owner_password_matched  # the owner password is a fresh one
    with pytest.raises(pikepdf.PasswordError):
        pikepdf.open(io.BytesIO(result.data), password="owner")
    assert page_count(result.data) == 2
    assert texts(result.data) == [f"{TEXT} 1", f"{TEXT} 2"]


def test_too_many_pages_are_refused() -> None:
    source = document(pages=6)

    with pytest.raises(InputTooLarge):
        compress(source, options=LOSSLESS, limits=EngineLimits(max_pdf_pages=5))
    with pytest.raises(InputTooLarge):
        probe(source, limits=EngineLimits(max_pdf_pages=5))
    assert probe(source, limits=EngineLimits(max_pdf_pages=6)).pages == 6


def test_a_deflate_bomb_stream_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    cap = 4 * 2**20
    monkeypatch.setattr(pdf_guard, "MAX_STREAM_DECODED_BYTES", cap)  # the real cap takes seconds to build
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


def with_docinfo(source: bytes, **info: str) -> bytes:
    pdf = pikepdf.open(io.BytesIO(source))
    pdf.docinfo = pdf.make_indirect(pikepdf.Dictionary({f"/{key}": value for key, value in info.items()}))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


@pytest.mark.parametrize("options", [LOSSLESS, LOSSY, BALANCED], ids=["lossless", "lossy", "balanced"])
def test_a_pdf_with_a_title_keeps_its_title_and_loses_the_rest_of_its_info(options: CompressOptions) -> None:
    source = with_docinfo(document(pages=2), Title="User guide", Author="Someone", Producer="LaTeX")

    result = compress(source, options=options)

    assert len(result.data) <= len(source)
    assert page_count(result.data) == 2
    with pikepdf.open(io.BytesIO(result.data), attempt_recovery=False) as pdf:
        assert str(pdf.docinfo.Title) == "User guide"
        if not result.unchanged:
            assert "/Author" not in pdf.docinfo and "/Producer" not in pdf.docinfo


def wordy_document(pages: int) -> bytes:
    """Uncompressed pages of text, a classic cross-reference table: plenty for compression to save."""
    pdf = pikepdf.open(io.BytesIO(document(pages=pages)))
    for number, page in enumerate(pdf.pages, start=1):
        lines = "".join(
            f"BT /F1 9 Tf 72 {700 - 12 * row} Td (line {row} of page {number}) Tj ET\n" for row in range(50)
        )
        page.obj.Contents = pdf.make_stream(
            f"BT /F1 18 Tf 72 720 Td ({TEXT} {number}) Tj ET\n{lines}".encode()
        )
    pdf.docinfo = pdf.make_indirect(pikepdf.Dictionary(Title="Wordy"))
    out = io.BytesIO()
    pdf.save(out, compress_streams=False, object_stream_mode=pikepdf.ObjectStreamMode.disable)
    return out.getvalue()


def truncated(source: bytes, keep_before: bytes) -> bytes:
    """``source`` cut just before the last ``keep_before`` (a download that stopped early)."""
    return source[: source.rindex(keep_before)]


@pytest.mark.parametrize("options", [LOSSLESS, BALANCED], ids=["lossless", "balanced"])
@pytest.mark.parametrize("cut_at", [b"xref", b"trailer", b"startxref"])
def test_a_truncated_pdf_is_repaired_into_a_pdf_that_opens(options: CompressOptions, cut_at: bytes) -> None:
    source = truncated(wordy_document(pages=3), cut_at)
    with pytest.raises(pikepdf.PdfError):
        pikepdf.open(io.BytesIO(source), attempt_recovery=False)

    result = compress(source, options=options)

    assert not result.unchanged and len(result.data) < len(source)
    with pikepdf.open(io.BytesIO(result.data), attempt_recovery=False) as pdf:
        assert len(pdf.pages) == 3
        assert pdf.get_warnings() == []
        if cut_at == b"startxref":  # the trailer, which points at the document info, is still there
            assert str(pdf.docinfo.Title) == "Wordy"
    assert texts(result.data)[0::51] == [f"{TEXT} {n}" for n in (1, 2, 3)]
    assert probe(source, limits=EngineLimits()).pages == 3
    if shutil.which("pdftotext") or os.environ.get("CI"):  # a second reader, poppler (.ci/run installs it)
        assert "line 49 of page 3" in poppler_text(result.data)


def poppler_text(data: bytes) -> str:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as file:
        file.write(data)
        file.flush()
        run = subprocess.run(["pdftotext", file.name, "-"], capture_output=True, check=True, timeout=60)
    assert b"Syntax Error" not in run.stderr
    return run.stdout.decode()


@pytest.mark.parametrize("kept", [0.2, 0.5, 0.9])
def test_a_pdf_truncated_before_its_last_page_is_refused(kept: float) -> None:
    complete = wordy_document(pages=3)
    source = complete[: round(len(complete) * kept)]

    with pytest.raises(CorruptInput) as refused:
        compress(source, options=BALANCED)
    with pytest.raises(CorruptInput):
        probe(source, limits=EngineLimits())

    assert "damaged" in refused.value.message


def test_a_pdf_truncated_inside_its_embedded_font_is_refused() -> None:
    pdf = pikepdf.open(io.BytesIO(wordy_document(pages=3)))
    font_program = pdf.make_stream(b"EMBEDDED FONT PROGRAM " * 200)
    pdf.pages[0].Resources.Font.F1.FontDescriptor = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.FontDescriptor, FontName=pikepdf.Name.Helvetica, FontFile2=font_program
        )
    )
    out = io.BytesIO()
    pdf.save(out, compress_streams=False, object_stream_mode=pikepdf.ObjectStreamMode.disable)
    complete = out.getvalue()
    assert complete.rindex(b"EMBEDDED FONT") > complete.rindex(b"line 49 of page 3")  # every page comes first
    source = truncated(complete, b"EMBEDDED FONT")

    with pytest.raises(CorruptInput) as refused:
        compress(source, options=LOSSLESS)

    assert "damaged" in refused.value.message


def test_a_damaged_pdf_whose_repair_would_be_larger_is_refused() -> None:
    compact = compress(wordy_document(pages=3), options=LOSSLESS).data
    offset = compact.rindex(b"startxref")
    source = compact[:offset] + b"startxref\n0\n%%EOF\n"  # the cross-reference table is lost

    with pytest.raises(CorruptInput) as refused:
        compress(source, options=LOSSLESS)

    assert "damaged" in refused.value.message and "larger" in refused.value.message


@pytest.mark.parametrize("damage", ["drop_last_page", "blank_first_page"])
def test_an_output_that_fails_its_check_is_not_returned(monkeypatch: pytest.MonkeyPatch, damage: str) -> None:
    source = wordy_document(pages=3)
    save = pdf_module.save_document

    def faulty_save(document: pdf_module.Document) -> bytes:  # an optimiser bug
        if damage == "drop_last_page":
            del document.pdf.pages[-1]
        else:
            document.pdf.pages[0].obj.Contents = document.pdf.make_stream(b"")
        return save(document)

    monkeypatch.setattr(pdf_module, "save_document", faulty_save)

    result = compress(source, options=LOSSLESS)

    assert result.unchanged and result.data == source
    assert result.warning and "original is returned unchanged" in result.warning
