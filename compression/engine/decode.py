"""Loading with libvips: header reads, sequential decodes, orientation, deadlines and error mapping."""

import contextlib
import time
from collections.abc import Iterator

import pyvips

from .errors import CorruptInput, DeadlineExceeded, EngineError
from .formats import Format

ANIMATED_FORMATS = (Format.GIF, Format.WEBP)
# Orientations 5..8 swap width and height.
_TRANSPOSING_ORIENTATIONS = (5, 6, 7, 8)


def load_options(fmt: Format) -> dict[str, object]:
    """Loader options: fail on truncated data, and load every frame of animated formats."""
    options: dict[str, object] = {"fail_on": "truncated"}
    if fmt in ANIMATED_FORMATS:
        options["n"] = -1
    return options


def orientation(image: pyvips.Image) -> int:
    if image.get_typeof("orientation") == 0:
        return 1
    value = int(image.get("orientation"))
    return value if 1 <= value <= 8 else 1


def oriented_size(image: pyvips.Image) -> tuple[int, int]:
    """Display size of one frame, after EXIF orientation."""
    width, height = image.width, page_height(image)
    if orientation(image) in _TRANSPOSING_ORIENTATIONS:
        return height, width
    return width, height


def page_height(image: pyvips.Image) -> int:
    if image.get_typeof("page-height"):
        value = int(image.get("page-height"))
        if 0 < value <= image.height and image.height % value == 0:
            return value
    return image.height


def frame_count(image: pyvips.Image) -> int:
    return image.height // page_height(image)


def header(data: bytes, fmt: Format) -> pyvips.Image:
    """A lazy image: only the header has been read."""
    with vips_errors(None):
        return pyvips.Image.new_from_buffer(data, "", **load_options(fmt))


def load(data: bytes, fmt: Format, *, sequential: bool = True, rotate: bool = True) -> pyvips.Image:
    """Load every frame, with EXIF orientation applied unless ``rotate`` is False. Sequential access
    streams the pixels through a single pass; rotating needs random access, so rotated images are
    loaded that way."""
    with vips_errors(None):
        access = "sequential" if sequential else "random"
        image = pyvips.Image.new_from_buffer(data, "", access=access, **load_options(fmt))
        if rotate and orientation(image) != 1:
            image = pyvips.Image.new_from_buffer(data, "", **load_options(fmt)).autorot()
        return image


def check_deadline(deadline: float | None) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise DeadlineExceeded()


def watch(image: pyvips.Image, deadline: float | None) -> pyvips.Image:
    """Checks ``deadline`` before ``image`` is evaluated.

    Not a libvips progress signal: libvips' operation cache shares images between calls, so a signal
    handler connected to one could fire after its Python owner is gone (a fatal cffi error) or kill a
    later call's evaluation. Each encode is short; the job's hard time limit bounds the rest.
    """
    check_deadline(deadline)
    return image


@contextlib.contextmanager
def vips_errors(deadline: float | None) -> Iterator[None]:
    """Map libvips failures to engine errors (a kill after the deadline to DeadlineExceeded)."""
    try:
        yield
    except EngineError:
        raise
    except pyvips.Error:
        check_deadline(deadline)
        raise CorruptInput() from None


def to_srgb8(image: pyvips.Image) -> pyvips.Image:
    """8-bit sRGB (alpha kept): what the quality metric compares."""
    if image.interpretation == "cmyk":
        image = image.icc_transform("srgb", embedded=True, input_profile="cmyk")
    if image.bands < 3 or image.format != "uchar" or image.interpretation != "srgb":
        image = image.colourspace("srgb")
    return image.cast("uchar") if image.format != "uchar" else image


def sample_pages(image: pyvips.Image, samples: int) -> pyvips.Image:
    """Up to ``samples`` evenly spaced frames of an image loaded with every frame stacked, side by
    side: what an animation's quality is measured on (scoring every frame of a long animation costs too
    much)."""
    frames = frame_count(image)
    frame_h = page_height(image)
    pages = (
        sorted({round(i * (frames - 1) / (samples - 1)) for i in range(samples)})
        if frames > samples
        else range(frames)
    )
    return side_by_side([image.crop(0, p * frame_h, image.width, frame_h) for p in pages])


def side_by_side(frames: list[pyvips.Image]) -> pyvips.Image:
    """Frames joined left to right. Never stacked: SSIMULACRA2's number of scales follows the smaller
    side (a scale narrower than 8 px is dropped and the weights shift), so a stack of 211-px frames would
    score 6 scales where each frame scores 5 (a WebP frame scoring 57.7 on its own read 85.9 stacked)."""
    return frames[0] if len(frames) == 1 else pyvips.Image.arrayjoin(frames, across=len(frames))
