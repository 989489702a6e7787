"""Another output format than the input's (``CompressOptions.convert``), from the shared raster step's
pixels (the style rendered, else the oriented decode), with the same rules per compression type:

- ``balanced``: the target format's smallest output that reaches the quality target, scored against
  those pixels (an image with alpha converted to JPEG is scored against its flattened pixels); WebP
  also tries its lossless mode for PNG and GIF inputs and where no lossy quality reaches the target;
- ``lossy``: the level as the target encoder's quality;
- ``lossless``: WebP's, AVIF's and PNG's lossless modes; JPEG cannot be lossless and is refused.

PNG output goes through the PNG codec itself (palette search, oxipng), from a quickly deflated PNG of the
pixels. GIF output is only made from GIF inputs (the GIF codec); an animation becomes an animated WebP or
AVIF (``avif_animation``); JPEG, PNG and JPEG XL take still images only.
An image with alpha becomes opaque in JPEG, over ``background`` (white unless the style sets one).
"""

from dataclasses import replace

import pyvips

from . import avif, avif_animation, jpeg, jxl, png, webp
from .decode import frame_count, page_height, to_srgb8, vips_errors
from .errors import UnsupportedConversion
from .formats import Format
from .metadata import exif_block, jpeg_keep, jpeg_with_exif, keep_flags, kept
from .options import CompressionType, CompressOptions, EngineLimits, parse_colour
from .raster import Raster, open_raster
from .result import IDENTICAL_SCORE, Result
from .search import SearchHint

# Deflate level of the PNG handed to the PNG codec: it is read once and recompressed by oxipng.
HANDOFF_PNG_COMPRESSION = 1
DEFAULT_BACKGROUND = "white"
# Outputs whose pixels are always upright: HEIF turns an EXIF orientation into a transform its decoders
# apply, and a JPEG XL codestream carries no EXIF.
UPRIGHT_FORMATS = (Format.AVIF, Format.JXL)
# Inputs stored losslessly: a balanced WebP of them is also tried lossless.
LOSSLESS_SOURCES = (Format.PNG, Format.GIF)


def encode_as(target: Format, raster: Raster, options: CompressOptions, deadline: float | None) -> Result:
    """``raster``'s pixels as ``target`` (not the input's format); UnsupportedConversion when
    ``target`` cannot hold them as asked."""
    if target is Format.GIF:
        raise UnsupportedConversion("GIF output is made from GIF inputs only.")
    if target in UPRIGHT_FORMATS:
        raster = replace(raster, stored_orientation=1)
    image = kept(raster.pixels(deadline, sequential=False), raster, options)
    keep = keep_flags(options)
    frames = frame_count(image)
    size = (image.width, page_height(image))
    if frames > 1 and target in (Format.JPEG, Format.JXL, Format.PNG):
        raise UnsupportedConversion(
            f"An animation cannot be converted to {target.value.upper()}; ask for WebP or AVIF."
        )
    if target is Format.PNG:
        with vips_errors(deadline):
            handoff = image.pngsave_buffer(compression=HANDOFF_PNG_COMPRESSION, keep=keep)
        pixels = open_raster(
            handoff, Format.PNG, limits=_no_limits(), resize=None, deadline=deadline, guarded=True
        )
        pixels.stored_orientation = raster.stored_orientation  # the hand-off holds the pixels as stored
        return png.compress_png(pixels, options, deadline)
    kind = options.compression_type
    with vips_errors(deadline):
        image = to_srgb8(image)
    if target is Format.JPEG:
        block = exif_block(raster.head, options, raster.stored_orientation)
        return _jpeg(image, size, options, deadline, block)
    if target is Format.WEBP:
        if kind is CompressionType.LOSSLESS:
            return _result(webp.lossless_encode(image, keep, deadline), target, size, None, None)
        if kind is CompressionType.LOSSY:
            out = webp.lossy_encode(image, webp.level_to_quality(options.level), keep, deadline)
            return _result(out, target, size, None, None)
        out, score, learnt = webp.balanced(
            image, keep, deadline, options.hint, options.target, converting=True
        )
        if score < options.target or raster.fmt in LOSSLESS_SOURCES:
            # Graphics: lossless WebP is often the smaller, and it always reaches the target.
            exact = webp.lossless_encode(image, keep, deadline)
            if score < options.target or len(exact) < len(out):
                return _result(exact, target, size, IDENTICAL_SCORE, learnt)
        return _result(out, target, size, score, learnt)
    if target is Format.AVIF and frames > 1:
        return _avif_animation(image, size, options, deadline)
    if target is Format.AVIF:
        if kind is CompressionType.LOSSLESS:
            return _result(avif.encode(image, 100, keep, deadline, lossless=True), target, size, None, None)
        if kind is CompressionType.LOSSY:
            return _result(
                avif.encode(image, avif.level_to_quality(options.level), keep, deadline),
                target,
                size,
                None,
                None,
            )
        out, score, learnt = avif.balanced(image, keep, deadline, options.hint, options.target)
        return _result(out, target, size, score, learnt)
    if target is Format.JXL:
        with vips_errors(deadline):
            pixels = jxl.srgb_pixels(image)
        if kind is CompressionType.LOSSLESS:
            return _result(jxl.encode(pixels, 100, deadline, lossless=True), target, size, None, None)
        if kind is CompressionType.LOSSY:
            out = jxl.encode(pixels, jxl.level_to_quality(options.level), deadline)
            return _result(out, target, size, None, None)
        out, score, learnt = jxl.balanced(pixels, deadline, options.hint, options.target)
        return _result(out, target, size, score, learnt)
    raise UnsupportedConversion(f"Conversion to {target.value} is not supported.")


def _jpeg(
    image: pyvips.Image,
    size: tuple[int, int],
    options: CompressOptions,
    deadline: float | None,
    block: bytes | None,
) -> Result:
    keep = jpeg_keep(options)
    if options.compression_type is CompressionType.LOSSLESS:
        raise UnsupportedConversion("JPEG cannot hold the image losslessly; ask for PNG, WebP or AVIF.")
    with vips_errors(deadline):
        if image.hasalpha():
            red, green, blue, _alpha = parse_colour(options.background or DEFAULT_BACKGROUND)
            image = image.flatten(background=[red, green, blue])
        image = jpeg.prepare(image.cast("uchar")).copy_memory()
    if options.compression_type is CompressionType.LOSSY:
        out = jpeg.mozjpeg_best(image, jpeg.level_to_quality(options.level), keep, deadline)
        return _result(jpeg_with_exif(out, block), Format.JPEG, size, None, None)
    out, score, learnt = jpeg.balanced(image, keep, deadline, hint=options.hint, target=options.target)
    return _result(jpeg_with_exif(out, block), Format.JPEG, size, score, learnt)


def _avif_animation(
    image: pyvips.Image, size: tuple[int, int], options: CompressOptions, deadline: float | None
) -> Result:
    kind = options.compression_type
    if kind is CompressionType.LOSSLESS:
        raise UnsupportedConversion(avif_animation.LOSSLESS_REFUSAL)
    if kind is CompressionType.LOSSY:
        return _result(avif_animation.lossy(image, options.level, deadline), Format.AVIF, size, None, None)
    out, score, learnt = avif_animation.balanced(image, deadline, options.hint, options.target)
    return _result(out, Format.AVIF, size, score, learnt)


def _result(
    data: bytes, fmt: Format, size: tuple[int, int], score: float | None, learnt: SearchHint | None
) -> Result:
    return Result(data, fmt, size[0], size[1], score, unchanged=False, search=learnt)


def _no_limits() -> EngineLimits:
    """The hand-off PNG holds pixels the input's limits already admitted."""
    return EngineLimits(
        max_input_bytes=2**62, max_pixels=2**62, max_frames=2**31, max_pdf_pages=1, max_svg_bytes=1
    )
