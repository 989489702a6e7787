"""Format sniffing from magic bytes; extensions and Content-Type are hints, never facts."""

import re
from enum import StrEnum

from .errors import CorruptInput, UnsupportedFormat


class Format(StrEnum):
    JPEG = "jpeg"
    PNG = "png"
    GIF = "gif"
    WEBP = "webp"
    SVG = "svg"
    PDF = "pdf"
    AVIF = "avif"
    JXL = "jxl"  # an output of ``convert`` only
    # Accepted as inputs only: their outputs are web formats (``convert``'s "auto").
    HEIC = "heic"
    TIFF = "tiff"
    BMP = "bmp"

    @property
    def mime(self) -> str:
        return _MIME[self]

    @property
    def web(self) -> bool:
        """Whether browsers show it, so that it may be an output (HEIC, TIFF and BMP are inputs only)."""
        return self not in (Format.HEIC, Format.TIFF, Format.BMP)

    @property
    def extension(self) -> str:
        return _EXTENSION[self]

    @classmethod
    def of_mime(cls, mime: str | None) -> "Format | None":
        """The format whose ``mime`` this is (what a probe stored), None for any other text."""
        return next((fmt for fmt, known in _MIME.items() if known == mime), None)


_MIME = {
    Format.JPEG: "image/jpeg",
    Format.PNG: "image/png",
    Format.GIF: "image/gif",
    Format.WEBP: "image/webp",
    Format.SVG: "image/svg+xml",
    Format.PDF: "application/pdf",
    Format.AVIF: "image/avif",
    Format.JXL: "image/jxl",
    Format.HEIC: "image/heic",
    Format.TIFF: "image/tiff",
    Format.BMP: "image/bmp",
}
_EXTENSION = {
    Format.JPEG: "jpg",
    Format.PNG: "png",
    Format.GIF: "gif",
    Format.WEBP: "webp",
    Format.SVG: "svg",
    Format.PDF: "pdf",
    Format.AVIF: "avif",
    Format.JXL: "jxl",
    Format.HEIC: "heic",
    Format.TIFF: "tif",
    Format.BMP: "bmp",
}
_MIME_ALIASES = {
    "image/jpeg": Format.JPEG,
    "image/jpg": Format.JPEG,
    "image/pjpeg": Format.JPEG,
    "image/png": Format.PNG,
    "image/x-png": Format.PNG,
    "image/apng": Format.PNG,
    "image/gif": Format.GIF,
    "image/webp": Format.WEBP,
    "image/svg+xml": Format.SVG,
    "image/svg": Format.SVG,
    "application/pdf": Format.PDF,
    "application/x-pdf": Format.PDF,
    "image/avif": Format.AVIF,
    "image/heic": Format.HEIC,
    "image/heif": Format.HEIC,
    "image/heic-sequence": Format.HEIC,
    "image/heif-sequence": Format.HEIC,
    "image/tiff": Format.TIFF,
    "image/tiff-fx": Format.TIFF,
    "image/bmp": Format.BMP,
    "image/x-bmp": Format.BMP,
    "image/x-ms-bmp": Format.BMP,
}
_NO_CLAIM = {"", "application/octet-stream", "binary/octet-stream"}

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Smallest plausible complete file per format: below this the input is cut short.
_MIN_BYTES = {
    Format.JPEG: 4 + 2,  # SOI + at least one marker
    Format.PNG: len(PNG_SIGNATURE) + 25,  # signature + IHDR chunk
    Format.GIF: 13,  # header + logical screen descriptor
    Format.WEBP: 20,  # RIFF header + first chunk header
    Format.TIFF: 8,  # byte order, magic, first IFD offset
    Format.PDF: 8,
}
_MAGIC: tuple[tuple[bytes, Format], ...] = (
    (b"\xff\xd8\xff", Format.JPEG),
    (PNG_SIGNATURE, Format.PNG),
    (b"GIF87a", Format.GIF),
    (b"GIF89a", Format.GIF),
    (b"%PDF-", Format.PDF),
    (b"II*\x00", Format.TIFF),
    (b"MM\x00*", Format.TIFF),
)
# ISO base media files (HEIF): the ``ftyp`` box's major and compatible brands tell AVIF from HEIC.
_AVIF_BRANDS = {b"avif", b"avis"}
_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1"}
# BMP: "BM", then the DIB header's size at offset 14 is one of the known header versions.
_BMP_DIB_SIZES = {12, 40, 52, 56, 64, 108, 124}
# PDF readers accept junk before the header within the first KiB.
_PDF_SEARCH_BYTES = 1024
_SVG_SEARCH_BYTES = 4096
_SVG_ROOT = re.compile(rb"<svg[\s>/]")
_XML_PREAMBLE = re.compile(rb"\s*(?:<\?xml[^>]*\?>|<!--.*?-->|<!DOCTYPE[^>]*>|\s)*\s*<svg[\s>/]", re.S | re.I)


def mime_to_format(claimed_mime: str | None) -> Format | None:
    """The format a client claims, None for no claim; an unknown claim is UnsupportedFormat."""
    if claimed_mime is None:
        return None
    mime = claimed_mime.split(";", 1)[0].strip().lower()
    if mime in _NO_CLAIM:
        return None
    try:
        return _MIME_ALIASES[mime]
    except KeyError:
        raise UnsupportedFormat() from None


def _sniff_bytes(data: bytes) -> Format:
    head = data[:_SVG_SEARCH_BYTES]
    for magic, fmt in _MAGIC:
        if head.startswith(magic):
            if len(data) < _MIN_BYTES[fmt]:
                raise CorruptInput()
            return fmt
        if len(head) < len(magic) and magic.startswith(head):
            raise CorruptInput()
    if head.startswith(b"RIFF"):
        if len(head) >= 12 and head[8:12] == b"WEBP":
            if len(data) < _MIN_BYTES[Format.WEBP]:
                raise CorruptInput()
            return Format.WEBP
        if len(head) < 12:
            raise CorruptInput()
    if b"%PDF-" in data[:_PDF_SEARCH_BYTES]:
        return Format.PDF
    container = _heif_kind(head)
    if container is not None:
        return container
    if head.startswith(b"BM") and len(head) >= 18 and int.from_bytes(head[14:18], "little") in _BMP_DIB_SIZES:
        return Format.BMP
    text = head.removeprefix(b"\xef\xbb\xbf")
    if _XML_PREAMBLE.match(text) or (text.lstrip().startswith(b"<") and _SVG_ROOT.search(text)):
        return Format.SVG
    raise UnsupportedFormat()


def _heif_kind(head: bytes) -> Format | None:
    """AVIF or HEIC for an ISO base media file whose ``ftyp`` box names their brands, else None."""
    if len(head) < 16 or head[4:8] != b"ftyp":
        return None
    box_end = min(int.from_bytes(head[0:4], "big"), len(head))
    brands = {head[8:12]} | {head[offset : offset + 4] for offset in range(16, box_end - 3, 4)}
    if brands & _AVIF_BRANDS:
        return Format.AVIF
    if brands & _HEIC_BRANDS:
        return Format.HEIC
    return None


def sniff(data: bytes, claimed_mime: str | None = None) -> Format:
    """The format of ``data``; CorruptInput when empty or cut short, UnsupportedFormat when unknown
    or different from the claimed MIME type."""
    if not data:
        raise CorruptInput("The file is empty.")
    claimed = mime_to_format(claimed_mime)
    fmt = _sniff_bytes(data)
    if claimed is not None and claimed != fmt:
        raise UnsupportedFormat("The file content does not match its declared type.")
    return fmt
