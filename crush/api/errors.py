"""What an exception raised by an API view means for the client: (status, message, code, headers).

One classification for every surface; each surface renders the result in its own shape (crush.api.surface).
Errors of layers below the services that know no HTTP (the compression engine's) get their status from the
table their app registers with `coded_errors_register` (STYLE §4: one mapping table).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions as drf

from crush.lib.errors import CrushError, FileTooLarge

CODED_ERROR_DEFAULT_STATUS = 422
_coded_errors: dict[type[Exception], Mapping[str, int]] = {}


@dataclass(frozen=True, slots=True)
class ApiError:
    status: int
    message: Any  # a string, or {field: [messages]} for validation errors
    code: str
    headers: dict[str, str] = field(default_factory=dict)


def coded_errors_register(error_class: type[Exception], statuses: Mapping[str, int]) -> None:
    """Instances of `error_class` carry a `code`; `statuses` gives each code's HTTP status (else 422)."""
    _coded_errors[error_class] = statuses


def _coded_status(exc: BaseException | None) -> int | None:
    for error_class, statuses in _coded_errors.items():
        if isinstance(exc, error_class):
            return statuses.get(str(getattr(exc, "code", "")), CODED_ERROR_DEFAULT_STATUS)
    return None


def classify(exc: Exception) -> ApiError:
    """Raises `exc` again when it is none of the known errors (the caller answers a logged 500)."""
    if isinstance(exc, CrushError):
        if _coded_status(exc.__cause__) == FileTooLarge.status:
            # a size, pixel, frame or page limit, wrapped by whichever service met it: 413, never 415
            return ApiError(FileTooLarge.status, exc.message, FileTooLarge.code)
        return ApiError(exc.status, exc.message, exc.code)
    coded_status = _coded_status(exc)
    if coded_status is not None:
        return ApiError(coded_status, str(exc), str(getattr(exc, "code", "error")))
    if isinstance(exc, drf.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return ApiError(422, _plain(detail), "invalid")
    if isinstance(exc, drf.Throttled):
        wait = math.ceil(getattr(exc, "wait", None) or 1)
        return ApiError(
            429, f"Too many requests, retry in {wait} seconds", "throttled", {"Retry-After": str(wait)}
        )
    if isinstance(exc, (drf.NotAuthenticated, drf.AuthenticationFailed)):
        auth_header = getattr(exc, "auth_header", None)  # DRF sets it on 401s: say which scheme to use
        headers = {"WWW-Authenticate": auth_header} if auth_header else {}
        return ApiError(401, str(exc.detail), "unauthenticated", headers)
    if isinstance(exc, (Http404, drf.NotFound)):
        return ApiError(404, "Not found", "not_found")
    if isinstance(exc, DjangoPermissionDenied):
        return ApiError(403, "Forbidden", "forbidden")
    if isinstance(exc, drf.APIException):
        return ApiError(exc.status_code, str(exc.detail), exc.default_code)
    raise exc


def _plain(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {str(key): _plain(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_plain(item) if isinstance(item, (dict, list)) else str(item) for item in detail]
    return str(detail)
