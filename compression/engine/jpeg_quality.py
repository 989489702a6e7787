"""A JPEG's quality, estimated from its luminance quantisation table (what ImageMagick's
``identify -format %Q`` and similar tools report).

libjpeg builds its tables by scaling the standard (Annex K) tables: ``q = (base * S + 50) // 100``
with ``S = 5000 / quality`` below 50 and ``200 - 2 * quality`` above. Inverting that scaling over the
whole table gives the IJG quality that would produce tables this coarse; for tables that are not
scaled IJG tables (cameras, Photoshop, mozjpeg's) it is the IJG quality of about the same coarseness.
No library in the stack exposes the tables (libvips does not; Pillow's ``quantization`` would mean a
second image library), so the DQT segments are read here.
"""

import struct

MAX_QUALITY = 100
MIN_QUALITY = 1

# ITU T.81 Annex K, table K.1 (luminance), in natural (row-major) order.
STANDARD_LUMINANCE = (
    16, 11, 10, 16, 24, 40, 51, 61,
    12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77,
    24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101,
    72, 92, 95, 98, 112, 100, 103, 99,
)  # fmt: skip
# Zig-zag position of each natural-order coefficient (the order DQT stores them in).
ZIGZAG = (
    0, 1, 5, 6, 14, 15, 27, 28,
    2, 4, 7, 13, 16, 26, 29, 42,
    3, 8, 12, 17, 25, 30, 41, 43,
    9, 11, 18, 24, 31, 40, 44, 53,
    10, 19, 23, 32, 39, 45, 52, 54,
    20, 22, 33, 38, 46, 51, 55, 60,
    21, 34, 37, 47, 50, 56, 59, 61,
    35, 36, 48, 49, 57, 58, 62, 63,
)  # fmt: skip
_SOS = 0xDA
_DQT = 0xDB


def quantisation_tables(data: bytes) -> dict[int, list[int]]:
    """The DQT tables before the first scan, by table id, in natural order ({} when none are
    found: not a JPEG, or damaged before its tables)."""
    tables: dict[int, list[int]] = {}
    pos = 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == _SOS:
            break
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        if marker == _DQT:
            segment = data[pos + 4 : pos + 2 + length]
            while segment:
                precision, table_id = segment[0] >> 4, segment[0] & 0x0F
                size = 128 if precision else 64
                if len(segment) < 1 + size:
                    break
                if precision:
                    values = list(struct.unpack(">64H", segment[1 : 1 + size]))
                else:
                    values = list(segment[1 : 1 + size])
                tables[table_id] = [values[ZIGZAG[i]] for i in range(64)]
                segment = segment[1 + size :]
        pos += 2 + length
    return tables


def estimate_quality(data: bytes) -> int | None:
    """The IJG quality (1..100) whose luminance table is as coarse as this JPEG's, or None when the
    tables cannot be read."""
    tables = quantisation_tables(data)
    if not tables:
        return None
    table = tables.get(0) or next(iter(tables.values()))
    # Entries libjpeg clamped (to 1 at high qualities, to 255 in 8-bit tables at low ones) do not
    # tell the scale.
    pairs = [(q, base) for q, base in zip(table, STANDARD_LUMINANCE, strict=True) if 1 < q < 255]
    if not pairs:
        return MAX_QUALITY if max(table) <= 1 else MIN_QUALITY
    scale = 100.0 * sum(q for q, _ in pairs) / sum(base for _, base in pairs)  # libjpeg's S, in percent
    quality = (200.0 - scale) / 2.0 if scale <= 100.0 else 5000.0 / scale
    return min(max(round(quality), MIN_QUALITY), MAX_QUALITY)
