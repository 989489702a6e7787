"""An animation as played: per-frame delays, and which output frame plays in each source frame's place.

Encoders may merge identical consecutive frames into one (gifsicle ``-O2``/``-O3``, libvips'
``gifsave`` and ``webpsave``). That plays the same only when the merged frame lasts as long as the
frames it replaces, as a browser plays them: browsers show a frame of 10 ms or less (a "0" or
"1 cs" GIF delay, or a GIF frame without a delay) for 100 ms; libvips' ``webpsave`` writes such
frames with that duration. The quality check compares each sampled source frame with the output
frame shown at the same time, never asking for output frames by the source's index.
"""

import struct

import pyvips

from .decode import side_by_side, vips_errors
from .formats import Format
from .limits import sub_blocks_end

# Browsers show frames of this many milliseconds or less for BROWSER_MIN_DELAY_MS.
BROWSER_CLAMPED_MS = 10
BROWSER_MIN_DELAY_MS = 100


def played_ms(delay_ms: int) -> int:
    """How long a browser shows a frame with this delay."""
    return BROWSER_MIN_DELAY_MS if delay_ms <= BROWSER_CLAMPED_MS else delay_ms


def _skip_sub_blocks(data: bytes, pos: int) -> int:
    """After the sub-blocks at ``pos``; the end of the data when they are not terminated."""
    end = sub_blocks_end(data, pos)
    return len(data) if end is None else end


def gif_delays(data: bytes) -> list[int]:
    """Each frame's delay in milliseconds, from the block structure (no LZW decoding); 0 for a
    frame without a graphic control extension, as the file says (libvips reports 100 there)."""
    delays: list[int] = []
    if len(data) < 13:
        return delays
    flags = data[10]
    pos = 13 + (3 * 2 ** ((flags & 0x07) + 1) if flags & 0x80 else 0)
    pending = 0
    while pos < len(data):
        block = data[pos]
        if block == 0x21 and pos + 1 < len(data):  # extension: label then sub-blocks
            if data[pos + 1] == 0xF9 and pos + 6 <= len(data):  # graphic control
                pending = struct.unpack("<H", data[pos + 4 : pos + 6])[0] * 10
            pos = _skip_sub_blocks(data, pos + 2)
        elif block == 0x2C and pos + 10 <= len(data):  # image descriptor
            frame_flags = data[pos + 9]
            pos += 10 + (3 * 2 ** ((frame_flags & 0x07) + 1) if frame_flags & 0x80 else 0)
            pos = _skip_sub_blocks(data, pos + 1)  # after the LZW minimum code size
            delays.append(pending)
            pending = 0
        else:  # trailer or garbage
            break
    return delays


def webp_delays(data: bytes) -> list[int]:
    """Each ANMF frame's duration in milliseconds; [0] for a still image."""
    delays: list[int] = []
    end = min(len(data), 8 + struct.unpack("<I", data[4:8])[0]) if len(data) >= 12 else 0
    pos = 12
    while pos + 8 <= end:
        fourcc = data[pos : pos + 4]
        size = struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        if fourcc == b"ANMF" and pos + 8 + 15 <= end:
            delays.append(int.from_bytes(data[pos + 8 + 12 : pos + 8 + 15], "little"))
        pos += 8 + size + (size & 1)
    return delays or [0]


def delays(data: bytes, fmt: Format) -> list[int]:
    return gif_delays(data) if fmt is Format.GIF else webp_delays(data)


def frame_map(source: list[int], output: list[int]) -> list[int] | None:
    """For each source frame, the output frame shown in its place; None when the output does not
    play the same. Each output frame must stand for a run of consecutive source frames that lasts,
    as a browser plays them, exactly as long (two merged 10 ms frames play for 200 ms, a 20 ms
    frame for 20 ms)."""
    mapping: list[int] = []
    pos = 0
    for index, delay in enumerate(output):
        if pos >= len(source):
            return None
        target = played_ms(delay)
        total = played_ms(source[pos])
        first = pos
        pos += 1
        while total < target and pos < len(source):
            total += played_ms(source[pos])
            pos += 1
        if total != target:
            return None
        mapping += [index] * (pos - first)
    return mapping if pos == len(source) else None


def sample_indices(frames: int, samples: int) -> list[int]:
    """Up to ``samples`` evenly spaced frame indices, first and last included."""
    if frames <= samples:
        return list(range(frames))
    return sorted({round(i * (frames - 1) / (samples - 1)) for i in range(samples)})


def load_pages(data: bytes, pages: list[int]) -> pyvips.Image:
    """The fully composited ``pages`` of an animation, side by side (``decode.side_by_side``)."""
    with vips_errors(None):
        return side_by_side(
            [pyvips.Image.new_from_buffer(data, "", fail_on="truncated", page=p, n=1) for p in pages]
        )
