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


def load(data: bytes, fmt: Format, *, autorotate: bool = True) -> pyvips.Image:
    """Sequential load of every frame, with EXIF orientation applied (needs random access, so
    only rotated images are loaded that way)."""
    with vips_errors(None):
        image = pyvips.Image.new_from_buffer(data, "", access="sequential", **load_options(fmt))
        if autorotate and orientation(image) != 1:
            image = pyvips.Image.new_from_buffer(data, "", **load_options(fmt)).autorot()
        return image


def check_deadline(deadline: float | None) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise DeadlineExceeded()


def watch(image: pyvips.Image, deadline: float | None) -> pyvips.Image:
    """Make libvips abandon the evaluation of ``image`` once ``deadline`` has passed."""
    if deadline is not None:
        image.set_progress(True)

        def on_eval(target: pyvips.Image, _progress: object) -> None:
            if time.monotonic() > deadline:
                target.set_kill(True)

        image.signal_connect("eval", on_eval)
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
