"""PDF with pikepdf: structure (object streams, Flate at level 9, unreferenced objects dropped,
metadata) and embedded images; text, vectors, links and pages are never touched or rasterised.

Images: JPEG streams go through the JPEG codec (``lossless`` = lossless transcode); 8-bit RGB or
grey Flate images are re-deflated (with the PNG "up" predictor when it helps) and, for the lossy
types, also tried as JPEG — whichever is smaller wins, a JPEG only when it meets the quality bar.
Lossy types downsample images drawn at more than ~150 dpi, with the placement taken from the
content streams' transformation matrices; an image whose placement is unknown keeps its size.
Anything unusual (masks by colour key, /Decode arrays, CMYK, Indexed, 16-bit, /Matte) is left as
it is rather than risked.

Opening, repairing, permissions, saving and the output check are in ``pdf_document``.

Hostile files: pages are counted before anything else; every Flate stream is inflated once with
a cap before pikepdf decodes it (``pdf_guard``: a "zip bomb" stream is refused); an image's declared
width x height is checked against the pixel limit before it is decoded. Where images are drawn, which
decides their resampling, is in ``pdf_placements``.
"""

import logging
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np
import pikepdf
import pyvips

from . import jpeg
from .errors import CorruptInput, EngineError
from .formats import Format
from .limits import check_bytes
from .options import CompressionType, CompressOptions, EngineLimits, ResizeSpec, ResizeStrategy
from .pdf_document import (
    FLATE_LEVEL,
    Document,
    NeedsRepair,
    open_document,
    output_problem,
    save_document,
)
from .pdf_guard import check_streams, single_filter
from .pdf_placements import Placements, image_placements
from .raster import open_raster
from .result import KEPT_ORIGINAL_WARNING, Result, finish
from .search import search_deadline

logger = logging.getLogger(__name__)

_PNG_UP = 2  # PNG filter type byte for "Up"
_PREDICTOR_PNG = 12  # /Predictor value announcing per-row PNG filters
_COMPONENTS = {"/DeviceRGB": 3, "/DeviceGray": 1}


@dataclass(slots=True)
class _Stats:
    images: int = 0
    images_changed: int = 0
    min_score: float | None = None


def _images(pdf: pikepdf.Pdf) -> Iterator[pikepdf.Stream]:
    for obj in pdf.objects:
        if isinstance(obj, pikepdf.Stream) and obj.get("/Subtype") == "/Image":
            yield obj


def _components(image: pikepdf.Stream) -> int | None:
    """Colour components for colour spaces we re-encode safely (RGB, grey, ICC with N 1 or 3)."""
    space = image.get("/ColorSpace")
    if isinstance(space, pikepdf.Name):
        return _COMPONENTS.get(str(space))
    if isinstance(space, pikepdf.Array) and len(space) == 2 and space[0] == "/ICCBased":
        n = space[1].get("/N") if isinstance(space[1], pikepdf.Stream) else None
        return int(n) if n in (1, 3) else None
    return None


def _plain(image: pikepdf.Stream) -> bool:
    """8-bit, no colour-key mask, no decode array, no matte: pixels mean what they say."""
    return (
        image.get("/BitsPerComponent") == 8
        and not image.get("/ImageMask", False)
        and "/Mask" not in image
        and "/Decode" not in image
        and not (isinstance(image.get("/SMask"), pikepdf.Stream) and "/Matte" in image.SMask)
    )


def _deflate(raw: bytes, width: int, components: int) -> tuple[bytes, bool]:
    """Smallest of plain deflate and deflate after the PNG Up filter; True when filtered."""
    plain = zlib.compress(raw, FLATE_LEVEL)
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(-1, width * components)
    up = np.empty_like(rows)
    up[0] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=up[1:])
    filtered = np.concatenate([np.full((rows.shape[0], 1), _PNG_UP, dtype=np.uint8), up], axis=1)
    predicted = zlib.compress(filtered.tobytes(), FLATE_LEVEL)
    return (predicted, True) if len(predicted) < len(plain) else (plain, False)


def _write_flate(image: pikepdf.Stream, raw: bytes, width: int, height: int, components: int) -> None:
    encoded, predicted = _deflate(raw, width, components)
    parms = None
    if predicted:
        parms = pikepdf.Dictionary(
            Predictor=_PREDICTOR_PNG, Colors=components, BitsPerComponent=8, Columns=width
        )
    image.write(encoded, filter=pikepdf.Name.FlateDecode, decode_parms=parms)
    image.Width, image.Height = width, height


def _write_jpeg(image: pikepdf.Stream, encoded: bytes, width: int, height: int) -> None:
    image.write(encoded, filter=pikepdf.Name.DCTDecode)
    image.Width, image.Height = width, height


def _pixels(raw: bytes, width: int, height: int, components: int) -> pyvips.Image:
    image = pyvips.Image.new_from_memory(raw, width, height, components, "uchar")
    return image.copy(interpretation="b-w" if components == 1 else "srgb")


def _resample(image: pyvips.Image, scale: float) -> pyvips.Image:
    return image.resize(scale, kernel="lanczos3") if scale < 1.0 else image


def _jpeg_candidate(
    image: pyvips.Image, options: CompressOptions, deadline: float | None
) -> tuple[bytes, float | None] | None:
    """A JPEG of ``image``; in ``balanced`` only one that reaches the floor (else None)."""
    keep = "none"
    if options.compression_type is CompressionType.BALANCED:
        out, score, _learnt = jpeg.balanced(image, keep, deadline, target=options.target)
        return (out, score) if score >= options.target else None
    return jpeg.mozjpeg_encode(image, jpeg.level_to_quality(options.level), keep, deadline), None


def _jpeg_matches(encoded: bytes, width: int, height: int, components: int) -> bool:
    head = pyvips.Image.new_from_buffer(encoded, "")
    return (head.width, head.height, head.bands) == (width, height, components) and not head.get_typeof(
        "orientation"
    )


def _optimise_dct(
    image: pikepdf.Stream,
    components: int,
    scale: float,
    options: CompressOptions,
    limits: EngineLimits,
    deadline: float | None,
    stats: _Stats,
) -> None:
    raw = image.read_raw_bytes()
    width, height = int(image.Width), int(image.Height)
    try:
        if not _jpeg_matches(raw, width, height, components):
            return  # EXIF-rotated or inconsistent with its dictionary: the codec would "fix" it
    except pyvips.Error:
        return
    resize = None
    if scale < 1.0:
        resize = ResizeSpec(
            strategy=ResizeStrategy.FIT,
            width=max(1, round(width * scale)),
            height=max(1, round(height * scale)),
        )
    raster = open_raster(raw, Format.JPEG, limits=limits, resize=resize, deadline=deadline)
    result = jpeg.compress_jpeg(raster, options, deadline)
    if result.unchanged or result.width is None or result.height is None:
        return
    if not _jpeg_matches(result.data, result.width, result.height, components) or len(result.data) >= len(
        raw
    ):
        return
    _write_jpeg(image, result.data, result.width, result.height)
    stats.images_changed += 1
    if result.ssimulacra2 is not None:
        stats.min_score = min(stats.min_score or 100.0, result.ssimulacra2)


def _optimise_flate(
    image: pikepdf.Stream,
    components: int,
    scale: float,
    lossy_allowed: bool,
    options: CompressOptions,
    deadline: float | None,
    stats: _Stats,
) -> None:
    width, height = int(image.Width), int(image.Height)
    raw = image.read_bytes()
    if len(raw) != width * height * components:
        return
    before = len(image.read_raw_bytes())
    best: tuple[int, str, bytes, int, int, float | None] | None = None
    pixels = _pixels(raw, width, height, components)
    if scale < 1.0:
        pixels = _resample(pixels, scale).copy_memory()
        raw = pixels.write_to_memory()
    out_w, out_h = pixels.width, pixels.height
    encoded, _ = _deflate(raw, out_w, components)
    best = (len(encoded), "flate", raw, out_w, out_h, None)
    if lossy_allowed:
        made = _jpeg_candidate(pixels, options, deadline)
        if made is not None and len(made[0]) < best[0]:
            best = (len(made[0]), "jpeg", made[0], out_w, out_h, made[1])
    if best[0] >= before:
        return
    _, kind, payload, out_w, out_h, score = best
    if kind == "jpeg":
        _write_jpeg(image, payload, out_w, out_h)
        if score is not None:
            stats.min_score = min(stats.min_score or 100.0, score)
    else:
        _write_flate(image, payload, out_w, out_h, components)
    stats.images_changed += 1


def _optimise_images(
    pdf: pikepdf.Pdf, options: CompressOptions, limits: EngineLimits, deadline: float | None
) -> _Stats:
    stats = _Stats()
    lossy = options.compression_type is not CompressionType.LOSSLESS
    placements = image_placements(pdf) if lossy else Placements()
    # A soft mask may have its own size: it follows its image's resampling, but stays lossless.
    masks: dict[tuple[int, int], float] = {}
    for image in _images(pdf):
        if isinstance(image.get("/SMask"), pikepdf.Stream):
            mask = image.SMask.objgen
            masks[mask] = max(masks.get(mask, 0.0), placements.scale(image))
    for image in list(_images(pdf)):
        if deadline is not None and time.monotonic() > deadline:
            logger.info("pdf: out of time after %d images; the rest are left as they are", stats.images)
            break
        stats.images += 1
        if options.strip_metadata and "/Metadata" in image:
            del image["/Metadata"]
        try:
            width, height = int(image.Width), int(image.Height)
        except (AttributeError, TypeError, ValueError):
            continue
        if width <= 0 or height <= 0 or width * height > limits.max_pixels:
            continue  # not decoded: too large to touch safely
        components = _components(image)
        if components is None or not _plain(image):
            continue
        is_mask = image.objgen in masks
        scale = masks[image.objgen] if is_mask else placements.scale(image)
        try:
            codec = single_filter(image)
            if codec == "/DCTDecode" and not is_mask:
                _optimise_dct(image, components, scale, options, limits, deadline, stats)
            elif codec in ("/FlateDecode", None):
                jpeg_allowed = lossy and not is_mask
                _optimise_flate(image, components, scale, jpeg_allowed, options, deadline, stats)
        except (pikepdf.PdfError, pyvips.Error, EngineError) as error:
            # DeadlineExceeded too: an image is replaced only once its new encoding is complete, so
            # the document stays whole and the loop above ends it.
            logger.info("pdf image %s left as is: %s", image.objgen, type(error).__name__)
    return stats


def _recompress_streams(pdf: pikepdf.Pdf) -> None:
    """Re-deflate non-image Flate streams (content, fonts, forms) at FLATE_LEVEL."""
    for obj in pdf.objects:
        if (
            not isinstance(obj, pikepdf.Stream)
            or obj.get("/Subtype") == "/Image"
            or obj.get("/Type") in ("/XRef", "/ObjStm")
            or single_filter(obj) != "/FlateDecode"
            or "/DecodeParms" in obj
        ):
            continue
        try:
            decoded = obj.read_bytes()
        except pikepdf.PdfError:
            continue
        encoded = zlib.compress(decoded, FLATE_LEVEL)
        if len(encoded) < len(obj.read_raw_bytes()):
            obj.write(encoded, filter=pikepdf.Name.FlateDecode)


def _strip_metadata(pdf: pikepdf.Pdf) -> None:
    """XMP, page thumbnails and editor private data; the document title stays (viewers show it)."""
    root = pdf.Root
    for key in ("/Metadata", "/PieceInfo"):
        if key in root:
            del root[key]
    for page in pdf.pages:
        for key in ("/Thumb", "/PieceInfo", "/Metadata"):
            if key in page.obj:
                del page.obj[key]
    info = pdf.trailer.get("/Info")
    title = info.get("/Title") if isinstance(info, pikepdf.Dictionary) else None
    del pdf.docinfo
    if title is not None:
        pdf.docinfo = pdf.make_indirect(pikepdf.Dictionary(Title=title))


def compress_pdf(
    data: bytes, *, options: CompressOptions, limits: EngineLimits, deadline: float | None
) -> Result:
    """The compressed PDF (resize styles do not apply: pages are not images).

    A damaged file is repaired; its repaired copy is returned only when it is smaller than the
    upload and passes the output check, otherwise it is refused (the upload itself is no output:
    it does not open everywhere)."""
    check_bytes(data, limits)
    try:
        document = open_document(data, limits, recover=False)
        output, stats = _compress_document(document, options, limits, deadline)
    except NeedsRepair:
        document = open_document(data, limits, recover=True)
        output, stats = _compress_document(document, options, limits, deadline)
    logger.debug("pdf: %d images, %d re-encoded", stats.images, stats.images_changed)
    problem = output_problem(output, document.fingerprint)
    if document.repaired:
        if problem is not None:
            logger.info("pdf: repaired copy rejected: %s", problem)
            raise CorruptInput("The PDF is damaged and could not be repaired.")
        if len(output) >= len(data):
            raise CorruptInput("The PDF is damaged; a repaired copy would be larger than the upload.")
    elif problem is not None:  # an optimiser bug: the fallback of pipeline.compress, said here
        logger.error("pdf: the output failed its check (%s); the original is returned unchanged", problem)
        kept = finish(data, data, Format.PDF, (None, None), score=None, resized=False)
        return replace(kept, warning=KEPT_ORIGINAL_WARNING)
    return finish(data, output, Format.PDF, (None, None), score=stats.min_score, resized=False)


def _compress_document(
    document: Document, options: CompressOptions, limits: EngineLimits, deadline: float | None
) -> tuple[bytes, _Stats]:
    """The saved, compressed document; a library error raises NeedsRepair when the document was
    read strictly, CorruptInput when it was already read with recovery."""
    pdf = document.pdf
    with pdf:
        try:
            check_streams(pdf)
            # Anytime: the images (the costly, optional part) get a share of the time left; the
            # rest is kept for re-deflating the streams and saving, which every output needs.
            stats = _optimise_images(pdf, options, limits, search_deadline(deadline))
            _recompress_streams(pdf)
            if options.strip_metadata:
                _strip_metadata(pdf)
            pdf.remove_unreferenced_resources()
            return save_document(document), stats
        except pikepdf.PdfError:
            if not document.repaired:
                raise NeedsRepair() from None
            raise CorruptInput("The PDF is damaged and could not be repaired.") from None
