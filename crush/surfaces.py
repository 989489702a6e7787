"""The two public API surfaces and the shape each gives its errors (API.md)."""

from enum import Enum
from typing import Any


class Surface(Enum):
    CRUSH = "crush"
    IMAGERECYCLE = "imagerecycle"
    OTHER = "other"

    @property
    def is_api(self) -> bool:
        return self is not Surface.OTHER


def surface_of(path: str) -> Surface:
    if path.startswith("/imagerecycle/"):
        return Surface.IMAGERECYCLE
    if path == "/v1" or path.startswith("/v1/"):
        return Surface.CRUSH
    return Surface.OTHER


def error_body(surface: Surface, status: int, message: Any, code: str) -> dict[str, Any]:
    """`message` is a string, or for /v1/ validation errors a {field: [messages]} mapping."""
    if surface is Surface.IMAGERECYCLE:
        if isinstance(message, dict):
            message = "; ".join(f"{field}: {' '.join(map(str, errors))}" for field, errors in message.items())
        return {"errCode": status, "errMessage": str(message), "code": code}
    return {"message": message, "code": code}
