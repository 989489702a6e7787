"""One exception handler for both API surfaces; every known error becomes that surface's JSON shape."""

import logging
import math
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from rest_framework import exceptions as drf
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from crush.lib.errors import CrushError, FileTooLarge
from crush.surfaces import Surface, error_body, surface_of

logger = logging.getLogger(__name__)

# Engine errors are HTTP-free; this table gives them their status (STYLE §4).
ENGINE_ERROR_STATUS = {
    "unsupported_format": 415,
    "corrupt_input": 415,
    "encrypted_pdf": 415,
    "input_too_large": 413,
    "invalid_spec": 422,
    "deadline_exceeded": 422,
}


def _classify(exc: Exception) -> tuple[int, Any, str, dict[str, str]]:
    """(status, message, code, extra headers) for an exception raised while serving an API request."""
    from compression.engine.errors import EngineError

    if isinstance(exc, CrushError):
        if isinstance(exc.__cause__, EngineError) and exc.__cause__.code == "input_too_large":
            # a size, pixel, frame or page limit, wrapped by whichever service met it: 413, never 415
            return ENGINE_ERROR_STATUS["input_too_large"], exc.message, FileTooLarge.code, {}
        return exc.status, exc.message, exc.code, {}
    if isinstance(exc, EngineError):
        return ENGINE_ERROR_STATUS.get(exc.code, 422), str(exc), exc.code, {}
    if isinstance(exc, drf.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return 422, _plain(detail), "invalid", {}
    if isinstance(exc, drf.Throttled):
        wait = math.ceil(getattr(exc, "wait", None) or 1)
        return 429, f"Too many requests, retry in {wait} seconds", "throttled", {"Retry-After": str(wait)}
    if isinstance(exc, (drf.NotAuthenticated, drf.AuthenticationFailed)):
        return 401, str(exc.detail), "unauthenticated", {}
    if isinstance(exc, (Http404, drf.NotFound)):
        return 404, "Not found", "not_found", {}
    if isinstance(exc, DjangoPermissionDenied):
        return 403, "Forbidden", "forbidden", {}
    if isinstance(exc, drf.APIException):
        return exc.status_code, str(exc.detail), exc.default_code, {}
    raise exc


def _plain(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {str(key): _plain(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_plain(item) if isinstance(item, (dict, list)) else str(item) for item in detail]
    return str(detail)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    request = context.get("request")
    surface = surface_of(request.path) if request is not None else Surface.CRUSH
    if surface is Surface.OTHER:
        surface = Surface.CRUSH
    try:
        status, message, code, headers = _classify(exc)
    except Exception:
        logger.exception("unhandled API error")
        status, message, code, headers = 500, "Internal server error", "server_error", {}
    if getattr(exc, "auth_header", None):  # DRF sets it on 401s: say which scheme to use
        headers = {**headers, "WWW-Authenticate": exc.auth_header}  # type: ignore[attr-defined]
    if surface is Surface.IMAGERECYCLE and status == 422:
        status = 400  # the ImageRecycle surface reports validation as a bad query (API.md §2)
    return Response(error_body(surface, status, message, code), status=status, headers=headers)


class JsonErrorsMixin:
    """For API views whose success is not JSON (the OpenAPI YAML, the Swagger UI page): their errors still
    are, whatever renderer the request negotiated."""

    def finalize_response(self, request: Request, response: HttpResponse, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        if isinstance(response, Response) and response.status_code >= 400:
            response.accepted_renderer = JSONRenderer()
            response.accepted_media_type = JSONRenderer.media_type
        return response


def _json_or_default(request: HttpRequest, status: int, message: str, code: str) -> HttpResponse | None:
    surface = surface_of(request.path)
    if surface is Surface.OTHER:
        return None
    return JsonResponse(error_body(surface, status, message, code), status=status)


def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Catch-all for unknown routes under the API prefixes (JSON even with DEBUG on)."""
    response = _json_or_default(request, 404, "Not found", "not_found")
    assert response is not None
    return response


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    from django.views import defaults

    return _json_or_default(request, 400, "Bad request", "bad_request") or defaults.bad_request(
        request, exception or Exception("bad request")
    )


def handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    from django.views import defaults

    return _json_or_default(request, 403, "Forbidden", "forbidden") or defaults.permission_denied(
        request, exception or Exception("forbidden")
    )


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    from django.views import defaults

    return _json_or_default(request, 404, "Not found", "not_found") or defaults.page_not_found(
        request, exception
    )


def handler500(request: HttpRequest) -> HttpResponse:
    from django.views import defaults

    return _json_or_default(request, 500, "Internal server error", "server_error") or defaults.server_error(
        request
    )
