"""Surfaces by host name (`CRUSH_SURFACE_HOSTS`): a request whose `Host` is listed is answered by that
surface at the root path, as the service it replaces answered at its own host, so a plugin with a hard-coded
host (ImageRecycle's WordPress plugin posts to `https://api.imagerecycle.com/v1/images`) works once that name
resolves to Crush. The path is rewritten before anything routes it — in the WSGI application, ahead of
the chunked-body layer, and again (a no-op then) by the first Django middleware, which also serves the
test client and `runserver` — so every layer sees the surface's own path (`/v1/images` is
`/imagerecycle/v1/images`).

Left as they are: paths already under the surface's mount (its download links), and the operator's paths
(`/health/`, `/admin/`, `/static/`). Unlisted hosts keep the usual prefixes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from crush.api.surfaces import SURFACES

OPERATOR_PATHS = ("/health", "/admin", "/static")
StartResponse = Callable[..., Any]


def mounted_path(host: str, path: str) -> str:
    """`path` as Crush routes it for a request to `host` (a `Host` header value, port allowed)."""
    name = settings.CRUSH_SURFACE_HOSTS.get(host.rsplit(":", 1)[0].strip().lower().rstrip("."))
    if name is None:
        return path
    mount = next((surface.mount for surface in SURFACES if surface.name == name), "")
    if not mount or any(path == root or path.startswith(root + "/") for root in (mount, *OPERATOR_PATHS)):
        return path
    return mount + path


class SurfaceHostApplication:
    """WSGI: rewrites `PATH_INFO` for listed hosts before the layers under it read it."""

    def __init__(self, app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
        environ["PATH_INFO"] = mounted_path(host, environ.get("PATH_INFO", ""))
        return self.app(environ, start_response)


class SurfaceHostMiddleware:
    """The same rewrite for requests that did not come through the WSGI application."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path_info = mounted_path(request.META.get("HTTP_HOST", ""), request.path_info)
        if path_info != request.path_info:
            request.path_info = path_info
            request.path = request.META.get("SCRIPT_NAME", "") + path_info
        return self.get_response(request)
