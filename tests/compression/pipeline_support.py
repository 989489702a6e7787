"""Inputs for the pipeline tests, generated with pyvips (plus tiny hand-made SVG and PDF files)."""

from __future__ import annotations

import io

import pyvips
from django.core.files.uploadedfile import SimpleUploadedFile

from compression.services import StyleRequest, SubmitOptions

TWO_STYLES = (
    StyleRequest(style="thumb", strategy="fit", width=40, height=40),
    StyleRequest(style="square", strategy="square", width=24, height=None),
)


def photo(width: int = 120, height: int = 80) -> pyvips.Image:
    """A smooth gradient with some texture: compresses like a photo, not like a flat colour."""
    x = pyvips.Image.xyz(width, height)
    r = (x[0] * 255 / width).cast("uchar")
    g = (x[1] * 255 / height).cast("uchar")
    b = ((x[0] + x[1]) * 3 % 256).cast("uchar")
    return r.bandjoin([g, b]).copy(interpretation="srgb")


def jpeg(width: int = 120, height: int = 80) -> bytes:
    return photo(width, height).jpegsave_buffer(Q=95)


def png(width: int = 120, height: int = 80) -> bytes:
    return photo(width, height).pngsave_buffer(compression=0)


def webp(width: int = 120, height: int = 80) -> bytes:
    return photo(width, height).webpsave_buffer(Q=95, keep="none")  # simple VP8 (no VP8X chunk)


def gif_animated(width: int = 60, height: int = 40, frames: int = 3) -> bytes:
    pages = [photo(width, height).rot180() if index % 2 else photo(width, height) for index in range(frames)]
    strip = pyvips.Image.arrayjoin(pages, across=1).copy()
    strip.set_type(pyvips.GValue.gint_type, "page-height", height)
    strip.set_type(pyvips.GValue.array_int_type, "delay", [100] * frames)
    return strip.gifsave_buffer()


def svg() -> bytes:
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<svg xmlns="http://www.w3.org/2000/svg" width="120" height="80" viewBox="0 0 120 80">\n'
        b"  <!-- a comment the minifier drops -->\n"
        b'  <rect x="0.000000" y="0.000000" width="120.000000" height="80.000000" fill="#ff0000"/>\n'
        b'  <circle cx="60.000000" cy="40.000000" r="30.000000" fill="#0000ff"/>\n'
        b"</svg>\n"
    )


def pdf() -> bytes:
    import pikepdf

    document = pikepdf.new()
    image = photo(200, 150)
    raw = bytes(image.write_to_memory())
    stream = pikepdf.Stream(document, raw)
    stream["/Type"] = pikepdf.Name.XObject
    stream["/Subtype"] = pikepdf.Name.Image
    stream["/Width"], stream["/Height"] = image.width, image.height
    stream["/ColorSpace"] = pikepdf.Name.DeviceRGB
    stream["/BitsPerComponent"] = 8
    page = document.add_blank_page(page_size=(200, 150))
    page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=stream))
    page.Contents = document.make_stream(b"q 200 0 0 150 0 0 cm /Im0 Do Q")
    buffer = io.BytesIO()
    document.save(buffer, compress_streams=False)
    return buffer.getvalue()


SAMPLES = {
    "jpeg": ("photo.jpg", "image/jpeg", jpeg),
    "png": ("photo.png", "image/png", png),
    "gif": ("anim.gif", "image/gif", gif_animated),
    "webp": ("photo.webp", "image/webp", webp),
    "svg": ("drawing.svg", "image/svg+xml", svg),
    "pdf": ("doc.pdf", "application/pdf", pdf),
}


def upload(name: str, data: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def options(**kwargs: object) -> SubmitOptions:
    kwargs.setdefault("resize", TWO_STYLES)
    return SubmitOptions(**kwargs)  # type: ignore[arg-type]


def decoded_size(data: bytes, fmt: str) -> tuple[int | None, int | None]:
    """Width and height of an output file, decoded for real (None, None for PDF)."""
    if fmt == "pdf":
        import pikepdf

        with pikepdf.open(io.BytesIO(data)) as document:
            assert len(document.pages) >= 1
        return None, None
    image = pyvips.Image.new_from_buffer(data, "", n=-1) if fmt in ("gif", "webp") else None
    if image is not None:
        height = image.get("page-height") if image.get_typeof("page-height") else image.height
        image.avg()
        return image.width, height
    image = pyvips.Image.new_from_buffer(data, "")
    image.avg()  # forces a full decode
    return image.width, image.height
