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
    if path == "/imagerecycle" or path.startswith("/imagerecycle/"):
        return Surface.IMAGERECYCLE
    if path == "/v1" or path.startswith("/v1/"):
        return Surface.CRUSH
    return Surface.OTHER


def _sentence(message: Any) -> str:
    """One human line: a {field: [messages]} mapping (nested for lists of objects) becomes
    `field: message message; field: …`."""
    if isinstance(message, dict):
        return "; ".join(f"{field}: {_sentence(errors)}" for field, errors in message.items())
    if isinstance(message, (list, tuple)):
        return " ".join(_sentence(item) for item in message)
    return str(message)


def error_body(surface: Surface, status: int, message: Any, code: str) -> dict[str, Any]:
    """`message` is a string, or for /v1/ validation errors a {field: [messages]} mapping."""
    if surface is Surface.IMAGERECYCLE:
        return {"errCode": status, "errMessage": _sentence(message), "code": code}
    return {"message": message, "formatted_message": _sentence(message), "code": code}
