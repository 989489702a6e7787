"""The PDF's decompression-bomb guard: every Flate stream is inflated once, with a cap, before
pikepdf decodes anything (a small file whose streams expand to gigabytes is refused)."""

import zlib

import pikepdf

from .errors import InputTooLarge

# Inflating more than this from one stream, or in total, is treated as a decompression bomb.
MAX_STREAM_DECODED_BYTES = 256 * 2**20
MAX_TOTAL_DECODED_BYTES = 1024 * 2**20
_INFLATE_CHUNK_BYTES = 16 * 2**20


def single_filter(stream: pikepdf.Stream) -> str | None:
    filters = stream.get("/Filter")
    if isinstance(filters, pikepdf.Array):
        if len(filters) != 1:
            return None
        filters = filters[0]
    return None if filters is None else str(filters)


def _inflated_size(raw: bytes, cap: int) -> int:
    """Bytes ``raw`` inflates to, stopping (InputTooLarge) past ``cap``; -1 when not valid zlib."""
    inflater = zlib.decompressobj()
    total = 0
    pending = raw
    try:
        while pending:
            total += len(inflater.decompress(pending, _INFLATE_CHUNK_BYTES))
            if total > cap:
                raise InputTooLarge("A stream in the PDF expands to more data than allowed.")
            pending = inflater.unconsumed_tail
            if inflater.eof:
                break
    except zlib.error:
        return -1
    return total


def check_streams(pdf: pikepdf.Pdf) -> None:
    """Refuse decompression bombs before pikepdf inflates anything."""
    budget = MAX_TOTAL_DECODED_BYTES
    for obj in pdf.objects:
        if isinstance(obj, pikepdf.Stream) and single_filter(obj) == "/FlateDecode":
            try:
                raw = obj.read_raw_bytes()
            except pikepdf.PdfError:
                continue  # unreadable (a truncated file): qpdf cannot inflate it either
            size = _inflated_size(raw, min(MAX_STREAM_DECODED_BYTES, budget))
            budget -= max(size, 0)
