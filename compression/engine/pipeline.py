"""Entry points: ``probe`` (headers only) and ``compress`` (dispatch to the per-format codec).

Steps: sniff -> guard -> decode -> orient -> resize -> encode -> optimize -> compare; the codecs
own decode..compare for their format.
"""

import importlib
from collections.abc import Callable

from .decode import check_deadline, frame_count, header, oriented_size
from .formats import Format, sniff
from .limits import check_bytes, guard_raster
from .options import CompressOptions, EngineLimits, ResizeSpec
from .result import Probe, Result

__all__ = ["Probe", "Result", "compress", "probe"]

Codec = Callable[..., Result]
_CODECS: dict[Format, tuple[str, str]] = {
    Format.JPEG: ("jpeg", "compress_jpeg"),
    Format.PNG: ("png", "compress_png"),
    Format.GIF: ("gif", "compress_gif"),
    Format.WEBP: ("webp", "compress_webp"),
    Format.SVG: ("svg", "compress_svg"),
    Format.PDF: ("pdf", "compress_pdf"),
}


def codec_for(fmt: Format) -> Codec:
    """The codec function, imported on first use (the SVG and PDF codecs pull in their own
    dependencies)."""
    module_name, function_name = _CODECS[fmt]
    module = importlib.import_module(f"{__package__}.{module_name}")
    codec: Codec = getattr(module, function_name)
    return codec


def probe(data: bytes, *, limits: EngineLimits, claimed_mime: str | None = None) -> Probe:
    """Format, display size, frames and pages from the headers; raises when a limit is exceeded."""
    fmt = sniff(data, claimed_mime)
    check_bytes(data, limits)
    if fmt is Format.PDF:
        from .pdf import probe_pdf  # pikepdf is imported only for PDFs

        return Probe(fmt, None, None, 1, probe_pdf(data, limits=limits))
    if fmt is Format.SVG:
        from .errors import InputTooLarge

        if len(data) > limits.max_svg_bytes:
            raise InputTooLarge(f"The SVG is larger than {limits.max_svg_bytes} bytes.")
        return Probe(fmt, None, None, 1, 1)
    guard_raster(data, fmt, limits)
    image = header(data, fmt)
    width, height = oriented_size(image)
    return Probe(fmt, width, height, frame_count(image), 1)


def compress(
    data: bytes,
    *,
    options: CompressOptions,
    resize: ResizeSpec | None = None,
    limits: EngineLimits = EngineLimits(),  # noqa: B008 - frozen dataclass
    deadline: float | None = None,
) -> Result:
    """Compress ``data`` into the same format; never returns more bytes than it was given unless
    ``resize`` actually resizes."""
    check_deadline(deadline)
    fmt = sniff(data)
    check_bytes(data, limits)
    return codec_for(fmt)(data, options=options, resize=resize, limits=limits, deadline=deadline)
