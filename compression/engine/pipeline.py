"""Entry points: ``probe`` (headers only) and ``compress`` (dispatch to the per-format codec).

Steps: sniff -> guard -> decode -> orient -> resize -> encode -> optimize -> compare; the codecs
own decode..compare for their format.

A codec that fails with anything but an ``EngineError`` is a bug in Crush, not a problem of the file:
``compress`` then checks that the input decodes and falls back instead of failing a valid file
(``Result.warning`` says so; the traceback is logged):

- no resize: the input itself (the never-larger rule), ``unchanged=True``;
- a raster resize style: a plain ``thumbnail`` resize and the format's default encoder (the
  style's dimensions are right, its bytes are not optimized);
- an SVG is handed back only when it carries no active content (the sanitiser is a security
  guarantee); PDFs ignore resize styles, so theirs is the input;
- an input that does not decode is ``CorruptInput``; a fallback that fails too is an
  ``EngineError`` (the style fails with a clear message).

Running out of time is no failure either (anytime search): the searches stop at their share of the
deadline with the best passing output so far, and when the codec still hits the deadline (a decode
or a final encode overran) ``compress`` hands back the same fallback without the full decode (the
input for a same-size output, a plain resize for a resize style, ``TIME_WARNING`` says so). Only an
input that does not even open is refused.
"""

import importlib
import io
import logging
from collections.abc import Callable

import pyvips

from .decode import check_deadline, frame_count, header, load, oriented_size, vips_errors
from .errors import CorruptInput, DeadlineExceeded, EngineError
from .formats import Format, sniff
from .limits import check_bytes, guard_raster
from .options import CompressOptions, EngineLimits, ResizeSpec
from .resize import resize_image, target_geometry
from .result import IDENTICAL_SCORE, KEPT_ORIGINAL_WARNING, Probe, Result

logger = logging.getLogger(__name__)

PLAIN_RESIZE_WARNING = "The optimizer failed on this file; the style is a plain resize, not optimized."
FALLBACK_FAILED_MESSAGE = "This style could not be rendered from the file."
TIME_WARNING = "Time ran out before this file was optimized; the original is returned unchanged."
TIME_RESIZE_WARNING = "Time ran out before this style was optimized; the style is a plain resize."

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
    fmt = sniff(data)
    check_bytes(data, limits)
    codec = codec_for(fmt)
    try:
        return codec(data, options=options, resize=resize, limits=limits, deadline=deadline)
    except DeadlineExceeded:
        logger.warning("engine: out of time on a %s of %d bytes; falling back", fmt.value, len(data))
        return _fallback(data, fmt, resize=resize, limits=limits, deadline=None, timed_out=True)
    except EngineError:
        raise
    except Exception:
        logger.exception("engine: the %s codec failed unexpectedly (%d bytes in)", fmt.value, len(data))
    check_deadline(deadline)
    return _fallback(data, fmt, resize=resize, limits=limits, deadline=deadline)


def _fallback(
    data: bytes,
    fmt: Format,
    *,
    resize: ResizeSpec | None,
    limits: EngineLimits,
    deadline: float | None,
    timed_out: bool = False,
) -> Result:
    """What a file that decodes gets when its codec failed or ran out of time; see the module
    docstring. Out of time, the input's pixels are not all decoded first (that could take as long as
    what overran): its header must read, a plain resize decodes what it needs."""
    kept_warning = TIME_WARNING if timed_out else KEPT_ORIGINAL_WARNING
    if fmt is Format.PDF:
        _check_pdf_opens(data)
        return Result(data, fmt, None, None, None, unchanged=True, warning=kept_warning)
    if fmt is Format.SVG:
        return _svg_unchanged(data, limits)
    image = header(data, fmt) if timed_out else _decoded(data, fmt)
    width, height = oriented_size(image)
    geometry = None if resize is None else target_geometry(width, height, resize)
    if geometry is None or not geometry.changes(width, height):
        return Result(data, fmt, width, height, IDENTICAL_SCORE, unchanged=True, warning=kept_warning)
    assert resize is not None
    try:
        resized = resize_image(data, fmt, geometry, resize, deadline)
        output = resized.write_to_buffer(f".{fmt.extension}")
    except EngineError:
        raise
    except Exception:
        logger.exception("engine: the plain %s resize failed too", fmt.value)
        raise EngineError(FALLBACK_FAILED_MESSAGE) from None
    warning = TIME_RESIZE_WARNING if timed_out else PLAIN_RESIZE_WARNING
    return Result(output, fmt, geometry.width, geometry.height, None, unchanged=False, warning=warning)


def _decoded(data: bytes, fmt: Format) -> pyvips.Image:
    """The image after a full decode of every pixel of every frame (CorruptInput when it does not)."""
    with vips_errors(None):
        image = load(data, fmt)
        image.avg()  # pulls every pixel through the decoder
    return header(data, fmt)


def _check_pdf_opens(data: bytes) -> None:
    """CorruptInput unless pikepdf opens the PDF and reads its pages without having to repair it."""
    import pikepdf

    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            pages = len(pdf.pages)
            repaired = bool(pdf.get_warnings())
    except pikepdf.PdfError:
        raise CorruptInput("The PDF could not be read.") from None
    if repaired or pages < 1:
        raise CorruptInput("The PDF is damaged.")


def _svg_unchanged(data: bytes, limits: EngineLimits) -> Result:
    """The SVG as it came, only when it parses and has nothing the sanitiser would remove."""
    from .svg import _parse, sanitise  # the codec's own parser: same limits, same refusals

    root, _namespaces = _parse(data, limits)
    try:
        active = sanitise(root)
    except Exception:
        logger.exception("engine: the SVG sanitiser failed")
        raise EngineError(FALLBACK_FAILED_MESSAGE) from None
    if active:
        raise EngineError("The SVG could not be processed.")
    return Result(data, Format.SVG, None, None, None, unchanged=True, warning=KEPT_ORIGINAL_WARNING)
