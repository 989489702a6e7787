"""The public API surfaces, one module each; `surface_of` finds a path's surface for what runs before a view
is chosen (middleware, the WSGI layer, Django's error handlers). Views know theirs from their base class."""

from crush.api.surface import Surface
from crush.api.surfaces.crushpics import CRUSHPICS
from crush.api.surfaces.imagerecycle import IMAGERECYCLE
from crush.api.surfaces.kraken import KRAKEN
from crush.api.surfaces.tinify import TINIFY

SURFACES: tuple[Surface, ...] = (CRUSHPICS, IMAGERECYCLE, TINIFY, KRAKEN)


def surface_of(path: str) -> Surface | None:
    """The surface `path` belongs to; None outside every surface (the admin, health checks)."""
    return next((surface for surface in SURFACES if surface.owns(path)), None)
