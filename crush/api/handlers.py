"""Django's error handlers and the catch-all of unknown API routes: on a surface's paths, JSON in its shape
(even with DEBUG on); elsewhere Django's own pages. These answer before or outside any view, so the surface
is found by path."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

from crush.api.surface import Surface
from crush.api.surfaces import CRUSHPICS, surface_of


def error_json(surface: Surface, status: int, message: str, code: str) -> JsonResponse:
    return JsonResponse(surface.error_body(status, message, code), status=status)


def _json_or_default(request: HttpRequest, status: int, message: str, code: str) -> HttpResponse | None:
    surface = surface_of(request.path)
    return None if surface is None else error_json(surface, status, message, code)


def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Catch-all for unknown routes under the API prefixes."""
    return error_json(surface_of(request.path) or CRUSHPICS, 404, "Not found", "not_found")


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _json_or_default(request, 400, "Bad request", "bad_request") or defaults.bad_request(
        request, exception or Exception("bad request")
    )


def handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _json_or_default(request, 403, "Forbidden", "forbidden") or defaults.permission_denied(
        request, exception or Exception("forbidden")
    )


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _json_or_default(request, 404, "Not found", "not_found") or defaults.page_not_found(
        request, exception
    )


def handler500(request: HttpRequest) -> HttpResponse:
    return _json_or_default(request, 500, "Internal server error", "server_error") or defaults.server_error(
        request
    )
