"""Which metadata an output keeps: ``CompressOptions.preserve``, a whitelist.

- ``icc``: the colour profile (kept by default: without it colours shift);
- ``copyright``: EXIF Copyright and Artist;
- ``creation``: EXIF DateTime, DateTimeOriginal, DateTimeDigitized, their sub-seconds and time offsets;
- ``location``: the EXIF GPS directory (never kept unless asked);
- ``camera``: EXIF Make, Model, lens and exposure settings.

- ``orientation``: the orientation tag, the pixels left as stored (same-size JPEG, PNG and WebP outputs;
  resize styles, AVIF and JPEG XL are always upright). Without it the orientation is applied to the pixels
  and the tag dropped.

XMP, IPTC, comments, maker notes and thumbnails are dropped whenever a whitelist applies (they may hold a
location too). ``strip_metadata=False`` (``strip_tags: false``) keeps everything, as before.

The kept EXIF tags are written by Pillow into a new EXIF block (``exif_block``); libvips encoders get it as
the image's ``exif-data`` with its parsed ``exif-ifd*`` fields removed (they would be written back), and
JPEG outputs made outside libvips (jpegli, the lossless transcode) get it as an APP1 segment.
"""

import logging
import struct

import PIL.Image
import pyvips

from .options import CompressOptions
from .raster import Raster

logger = logging.getLogger(__name__)

_ORIENTATION = 0x0112
_EXIF_IFD = 0x8769
_GPS_IFD = 0x8825
# (IFD0 tags, Exif IFD tags) per group.
_TAGS: dict[str, tuple[frozenset[int], frozenset[int]]] = {
    "copyright": (frozenset({0x8298, 0x013B}), frozenset()),
    "creation": (
        frozenset({0x0132}),
        frozenset({0x9003, 0x9004, 0x9010, 0x9011, 0x9012, 0x9290, 0x9291, 0x9292}),
    ),
    "camera": (
        frozenset({0x010F, 0x0110}),
        frozenset(
            {
                0x829A, 0x829D, 0x8822, 0x8827, 0x8833, 0x9201, 0x9202, 0x9204, 0x9205, 0x9207,
                0x9209, 0x920A, 0xA402, 0xA403, 0xA405, 0xA406, 0xA431, 0xA432, 0xA433, 0xA434, 0xA435,
            }
        ),
    ),
}  # fmt: skip
EXIF_GROUPS = frozenset({*_TAGS, "location", "orientation"})


def keep_flags(options: CompressOptions) -> str:
    """libvips' ``keep`` for ``options``: everything, or the ICC profile and the EXIF block that
    ``preserved`` leaves on the image."""
    if not options.strip_metadata:
        return "all"
    flags = [
        flag
        for flag, wanted in (("icc", "icc" in options.preserve), ("exif", _wants_exif(options)))
        if wanted
    ]
    return ",".join(flags) or "none"


def jpeg_keep(options: CompressOptions) -> str:
    """libvips' ``keep`` for JPEG encodes: a JPEG's EXIF is added afterwards (``jpeg_with_exif``),
    since jpegli candidates and the lossless pass carry no EXIF of their own."""
    if not options.strip_metadata:
        return "all"
    return "icc" if "icc" in options.preserve else "none"


def _wants_exif(options: CompressOptions) -> bool:
    return bool(options.preserve & EXIF_GROUPS)


def exif_block(source: pyvips.Image, options: CompressOptions, orientation: int = 1) -> bytes | None:
    """The EXIF block (``Exif\\0\\0`` and a TIFF structure) holding only the tags ``options.preserve``
    asks for that ``source`` has, plus ``orientation`` when it is not 1 (a lossless JPEG keeps its
    pixels unrotated); None when that is nothing."""
    if not options.strip_metadata or not _wants_exif(options):
        return None
    original = PIL.Image.Exif()
    try:
        if source.get_typeof("exif-data"):
            original.load(source.get("exif-data"))
        kept = PIL.Image.Exif()
        for group in options.preserve & _TAGS.keys():
            top, sub = _TAGS[group]
            kept.update({tag: original[tag] for tag in top if tag in original})
            inner = original.get_ifd(_EXIF_IFD)
            kept.get_ifd(_EXIF_IFD).update({tag: inner[tag] for tag in sub if tag in inner})
        if "location" in options.preserve:
            kept.get_ifd(_GPS_IFD).update(original.get_ifd(_GPS_IFD))
        if orientation != 1:
            kept[_ORIENTATION] = orientation
        if not (len(kept) or kept.get_ifd(_EXIF_IFD) or kept.get_ifd(_GPS_IFD)):
            return None
        return kept.tobytes()
    except (OSError, ValueError, KeyError, TypeError, struct.error) as error:
        logger.info("EXIF not readable, none kept: %s", error)
        return None


def kept(image: pyvips.Image, raster: Raster, options: CompressOptions) -> pyvips.Image:
    """``image`` carrying only the EXIF ``options`` keeps of ``raster``'s (its header, and the orientation
    tag when its pixels stay as stored): what libvips encoders write with ``keep_flags(options)``.
    Unchanged without ``strip_metadata``."""
    if not options.strip_metadata:
        return image
    return preserved(image, exif_block(raster.head, options, raster.stored_orientation))


def preserved(image: pyvips.Image, block: bytes | None) -> pyvips.Image:
    """``image`` whose EXIF is ``block`` alone (libvips writes it with ``keep`` including ``exif``)."""
    fields = [name for name in image.get_fields() if name.startswith("exif-")]
    if not fields and block is None:
        return image
    image = image.copy()
    for name in fields:
        image.remove(name)
    if block is not None:
        image.set_type(pyvips.GValue.blob_type, "exif-data", block)
    return image


def jpeg_with_exif(jpeg: bytes, block: bytes | None) -> bytes:
    """``jpeg`` (without EXIF) with ``block`` as an APP1 segment after SOI and JFIF."""
    if block is None:
        return jpeg
    segment = b"\xff\xe1" + struct.pack(">H", len(block) + 2) + block
    pos = 2
    if jpeg[pos : pos + 2] == b"\xff\xe0":
        pos += 2 + struct.unpack(">H", jpeg[pos + 2 : pos + 4])[0]
    return jpeg[:pos] + segment + jpeg[pos:]
