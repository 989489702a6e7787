"""The step every pixel format shares, run once by the pipeline before its codec: limits (read from
the file's structure, no pixel decoded) -> header -> orientation -> the resize style's geometry.

A codec gets the ``Raster`` and keeps only what differs between formats: how it wants the pixels
(``pixels``: the style rendered in memory, else the oriented full decode, sequential or random
access) and how it encodes them. GIF renders its own styles (gifsicle scales an animation far
faster than libvips), so it reads ``geometry`` and ``render_style`` is never called for it.
"""

from dataclasses import dataclass, field

import pyvips

from .decode import check_deadline, header, load, orientation, oriented_size, vips_errors
from .formats import Format
from .limits import guard_raster
from .options import EngineLimits, ResizeSpec
from .resize import Geometry, resize_image, target_geometry


@dataclass
class Raster:
    data: bytes
    fmt: Format
    head: pyvips.Image  # header only, every frame of an animation
    size: tuple[int, int]  # one frame's display size, after EXIF orientation
    orientation: int
    resize: ResizeSpec | None
    geometry: Geometry | None  # set only when the resize style changes the size
    # The orientation tag the output keeps, its pixels then left as stored (``preserve`` "orientation",
    # same-size outputs only); 1: the orientation is applied to the pixels.
    stored_orientation: int = 1
    _rendered: pyvips.Image | None = field(default=None, repr=False)

    @property
    def resized(self) -> bool:
        return self.geometry is not None

    @property
    def recoded(self) -> bool:
        """Whether the output's pixels differ in layout from the input's (resized or rotated)."""
        return self.resized or (self.orientation != 1 and self.stored_orientation == 1)

    def render_style(self, deadline: float | None) -> pyvips.Image:
        """The resize style rendered once into memory: a codec may encode it several times (a
        sequential pipeline could be read only once)."""
        assert self.geometry is not None and self.resize is not None
        if self._rendered is None:
            with vips_errors(deadline):
                rendered = resize_image(self.data, self.fmt, self.geometry, self.resize, deadline)
                self._rendered = rendered.copy_memory()
        return self._rendered

    def pixels(self, deadline: float | None, *, sequential: bool) -> pyvips.Image:
        """The output's pixels: the rendered style, else every frame decoded with EXIF orientation
        applied (random access for a codec that reads the pixels more than once)."""
        if self.resized:
            return self.render_style(deadline)
        return load(self.data, self.fmt, sequential=sequential, rotate=self.stored_orientation == 1)


def open_raster(
    data: bytes,
    fmt: Format,
    *,
    limits: EngineLimits,
    resize: ResizeSpec | None,
    deadline: float | None,
    guarded: bool = False,
) -> Raster:
    """The shared step; ``guarded`` when the submit's probe already checked the limits."""
    if not guarded:
        guard_raster(data, fmt, limits)
    check_deadline(deadline)
    with vips_errors(deadline):
        head = header(data, fmt)
    size = oriented_size(head)
    geometry = None
    if resize is not None:
        wanted = target_geometry(*size, resize)
        geometry = wanted if wanted.changes(*size) else None
    return Raster(data, fmt, head, size, orientation(head), resize, geometry)
