"""Entry points: ``probe`` (headers only) and ``compress`` (dispatch to the per-format codec).

Steps: sniff -> limits -> header -> orientation -> the style's geometry (``raster``, shared by the
pixel formats and run once here; skipped up to the header when the submit's probe is passed on)
-> the codec: pixels (decoded, or the style rendered) -> encode -> optimize -> compare. SVG and PDF
are documents: their codecs parse and guard them (``svg_sanitise``, ``pdf_guard``).

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

``convert`` (raster inputs; SVG and PDF keep their format) makes one output per asked format and returns
the smallest that meets the compression type's rule (``_smallest_of``).

Running out of time is no failure either (anytime search): the searches stop at their share of the
deadline with the best passing output so far, and when the codec still hits the deadline (a decode
or a final encode overran) ``compress`` hands back the same fallback without the full decode (the
input for a same-size output, a plain resize for a resize style, ``TIME_WARNING`` says so). Only an
input that does not even open is refused.
"""

import io
import logging
import time
from collections.abc import Callable
from dataclasses import replace

import pikepdf

from . import avif, convert, gif, jpeg, pdf, png, svg, webp
from .decode import check_deadline, frame_count, load, vips_errors
from .errors import CorruptInput, DeadlineExceeded, EngineError, InputTooLarge, UnsupportedConversion
from .foreign import FOREIGN_FORMATS, foreign_size, to_tiff
from .formats import Format, sniff
from .limits import check_bytes, check_pixels
from .metadata import preserved
from .options import CONVERT_AUTO, CompressionType, CompressOptions, EngineLimits, ResizeSpec
from .pdf_document import page_count
from .raster import Raster, open_raster
from .resize import resize_image
from .result import IDENTICAL_SCORE, KEPT_ORIGINAL_WARNING, Probe, Result, Tried
from .svg_sanitise import parse_svg, sanitise

logger = logging.getLogger(__name__)

PLAIN_RESIZE_WARNING = "The optimizer failed on this file; the style is a plain resize, not optimized."
FALLBACK_FAILED_MESSAGE = "This style could not be rendered from the file."
TIME_WARNING = "Time ran out before this file was optimized; the original is returned unchanged."
TIME_RESIZE_WARNING = "Time ran out before this style was optimized; the style is a plain resize."
MISSED_TARGET = "No output of this format reached the quality target."

__all__ = ["Probe", "Result", "compress", "probe"]

RasterCodec = Callable[[Raster, CompressOptions, "float | None"], Result]

# The pixel formats' codecs get the shared raster step's output; SVG and PDF read their documents.
RASTER_CODECS: dict[Format, RasterCodec] = {
    Format.JPEG: jpeg.compress_jpeg,
    Format.PNG: png.compress_png,
    Format.GIF: gif.compress_gif,
    Format.WEBP: webp.compress_webp,
    Format.AVIF: avif.compress_avif,
}


def probe(data: bytes, *, limits: EngineLimits, claimed_mime: str | None = None) -> Probe:
    """Format, display size, frames and pages from the headers; raises when a limit is exceeded."""
    fmt = sniff(data, claimed_mime)
    check_bytes(data, limits)
    if fmt is Format.PDF:
        return Probe(fmt, None, None, 1, page_count(data, limits))
    if fmt is Format.SVG:
        if len(data) > limits.max_svg_bytes:
            raise InputTooLarge(f"The SVG is larger than {limits.max_svg_bytes} bytes.")
        return Probe(fmt, None, None, 1, 1)
    if fmt in FOREIGN_FORMATS:  # the header alone: decoding waits for the job
        size = foreign_size(data, fmt)
        check_pixels(*size, limits)
        return Probe(fmt, *size, 1, 1)
    raster = open_raster(data, fmt, limits=limits, resize=None, deadline=None)
    return Probe(fmt, *raster.size, frame_count(raster.head), 1)


def compress(
    data: bytes,
    *,
    options: CompressOptions,
    resize: ResizeSpec | None = None,
    limits: EngineLimits = EngineLimits(),  # noqa: B008 - frozen dataclass
    deadline: float | None = None,
    probed: Format | None = None,
) -> Result:
    """Compress ``data`` into the same format; never returns more bytes than it was given unless
    ``resize`` actually resizes. ``probed`` is the format the submit's probe found: the input is then
    neither sniffed nor checked against the limits again."""
    fmt = probed or sniff(data)
    if probed is None:
        check_bytes(data, limits)
    try:
        if fmt is Format.PDF:  # pages are not images: resize styles do not apply
            return pdf.compress_pdf(data, options=options, limits=limits, deadline=deadline)
        if fmt is Format.SVG:
            return svg.compress_svg(data, options=options, resize=resize, limits=limits, deadline=deadline)
        if fmt in FOREIGN_FORMATS:  # decoded by Pillow into a TIFF libvips reads (limits checked first)
            tiff, exif = to_tiff(data, fmt, limits)
            raster = open_raster(
                tiff, Format.TIFF, limits=limits, resize=resize, deadline=deadline, guarded=True
            )
            raster.head = preserved(raster.head, exif)  # what ``preserve`` may keep of the file's EXIF
        else:
            raster = open_raster(
                data, fmt, limits=limits, resize=resize, deadline=deadline, guarded=probed is not None
            )
        if options.strip_metadata and "orientation" in options.preserve and not raster.resized:
            raster.stored_orientation = raster.orientation  # the tag kept, the pixels as stored
        lossless = options.compression_type is CompressionType.LOSSLESS
        stand_in = Format.PNG if lossless or raster.head.hasalpha() else Format.JPEG
        targets = convert_targets(options.convert, fmt, stand_in)
        if targets == (fmt,):
            return RASTER_CODECS[fmt](raster, options, deadline)
        return _smallest_of(targets, raster, options, deadline)
    except DeadlineExceeded:
        logger.warning("engine: out of time on a %s of %d bytes; falling back", fmt.value, len(data))
        return _fallback(data, fmt, resize=resize, limits=limits, deadline=None, timed_out=True)
    except EngineError:
        raise
    except Exception:
        logger.exception("engine: the %s codec failed unexpectedly (%d bytes in)", fmt.value, len(data))
    check_deadline(deadline)
    return _fallback(data, fmt, resize=resize, limits=limits, deadline=deadline)


def convert_targets(
    convert: tuple[str, ...], fmt: Format, stand_in: Format = Format.PNG
) -> tuple[Format, ...]:
    """The output formats ``convert`` asks for an input of ``fmt``, in order, once each ("auto": the
    input's, WebP, AVIF); the input's format alone when it asks for none. An input that is no web
    format (HEIC, TIFF, BMP) has ``stand_in`` (JPEG, or PNG for alpha or ``lossless``) in its place and
    "auto" when nothing is asked."""
    named: list[Format] = []
    for value in convert or (() if fmt.web else (CONVERT_AUTO,)):
        if value == CONVERT_AUTO:
            named += [fmt if fmt.web else stand_in, Format.WEBP, Format.AVIF]
        else:
            named.append(Format.JPEG if value == "jpg" else Format(value))
    return tuple(dict.fromkeys(named)) or (fmt,)


def _smallest_of(
    targets: tuple[Format, ...], raster: Raster, options: CompressOptions, deadline: float | None
) -> Result:
    """The smallest output among ``targets`` that meets the compression type's rule (``balanced``: the
    quality target), each candidate given an equal share of the time left; the tries are reported in
    ``Result.candidates``. The input's own format goes through its codec (never larger than the input);
    other formats through ``convert``. With no candidate made, the first refusal is raised."""
    made: list[Result] = []
    tried: list[Tried] = []
    refusals: list[EngineError] = []
    for index, target in enumerate(targets):
        share = (
            None
            if deadline is None
            else time.monotonic() + (deadline - time.monotonic()) / (len(targets) - index)
        )
        try:
            if target is raster.fmt:
                result = RASTER_CODECS[target](raster, options, share)
            else:
                result = convert.encode_as(target, raster, options, share)
        except (UnsupportedConversion, DeadlineExceeded) as refusal:
            tried.append(Tried(target.value, None, None, refusal.message))
            refusals.append(refusal)
            continue
        misses = (
            options.compression_type is CompressionType.BALANCED
            and result.ssimulacra2 is not None
            and result.ssimulacra2 < options.target
        )
        tried.append(
            Tried(target.value, len(result.data), result.ssimulacra2, MISSED_TARGET if misses else None)
        )
        if not misses:
            made.append(result)
    if not made:
        raise refusals[0] if refusals else UnsupportedConversion(MISSED_TARGET)
    best = min(made, key=lambda result: len(result.data))
    return replace(best, candidates=tuple(tried))


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
    if not fmt.web:  # the input cannot be an output: there is nothing to fall back on
        raise EngineError(FALLBACK_FAILED_MESSAGE)
    if fmt is Format.PDF:
        _check_pdf_opens(data)
        return Result(data, fmt, None, None, None, unchanged=True, warning=kept_warning)
    if fmt is Format.SVG:
        return _svg_unchanged(data, limits)
    raster = open_raster(data, fmt, limits=limits, resize=resize, deadline=None, guarded=True)
    if not timed_out:
        _decode_all(data, fmt)
    width, height = raster.size
    geometry = raster.geometry
    if geometry is None:
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


def _decode_all(data: bytes, fmt: Format) -> None:
    """Every pixel of every frame through the decoder (CorruptInput when it does not decode)."""
    with vips_errors(None):
        load(data, fmt).avg()


def _check_pdf_opens(data: bytes) -> None:
    """CorruptInput unless pikepdf opens the PDF and reads its pages without having to repair it."""
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
    root, _namespaces = parse_svg(data, limits)  # the codec's own parser: same limits, same refusals
    try:
        active = sanitise(root)
    except Exception:
        logger.exception("engine: the SVG sanitiser failed")
        raise EngineError(FALLBACK_FAILED_MESSAGE) from None
    if active:
        raise EngineError("The SVG could not be processed.")
    return Result(data, Format.SVG, None, None, None, unchanged=True, warning=KEPT_ORIGINAL_WARNING)
