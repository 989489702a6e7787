"""A public API surface: its path prefix, how it authenticates, and the shape of its errors and links.

Each surface (crush.api.surfaces) is one instance of a subclass of `Surface`; its base view
(crush.api.views.SurfaceApi) hands DRF the surface's exception handler, so every view of the surface answers
errors in its shape without looking at the path. Only what runs before a view is chosen (middleware, the WSGI
layer, Django's 404/500 handlers) finds the surface by path, with `crush.api.surfaces.surface_of`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import cached_property
from typing import Any
from urllib.parse import quote, urlencode

from django.utils.module_loading import import_string
from rest_framework.authentication import BaseAuthentication
from rest_framework.response import Response

from crush.api.errors import ApiError, classify

logger = logging.getLogger(__name__)


def sentence(message: Any) -> str:
    """One human line: a {field: [messages]} mapping (nested for lists of objects) becomes
    `field: message message; field: …`."""
    if isinstance(message, dict):
        return "; ".join(f"{field}: {sentence(errors)}" for field, errors in message.items())
    if isinstance(message, (list, tuple)):
        return " ".join(sentence(item) for item in message)
    return str(message)


class Surface:
    name: str
    prefix: str  # "/v1": the surface's paths are this and what lies under it
    # What Crush puts before the replaced service's own paths ("" when they are the same): a host listed in
    # CRUSH_SURFACE_HOSTS gets it added (crush.api.surfaces.hosts).
    mount: str = ""
    authentication: str  # dotted path of its DRF authentication class (apps are not imported here)
    validation_status = 422  # the status of input the serializers refuse

    def error_body(self, status: int, message: Any, code: str) -> dict[str, Any]:
        """`message` is a string, or for validation errors a {field: [messages]} mapping."""
        raise NotImplementedError

    def owns(self, path: str) -> bool:
        """Everything under the prefix's first segment (`/imagerecycle/v2` too): unknown paths there still
        answer in the surface's shape."""
        root = "/" + self.prefix.strip("/").split("/")[0]
        return path == root or path.startswith(root + "/")

    @cached_property
    def authentication_class(self) -> type[BaseAuthentication]:
        return import_string(self.authentication)  # type: ignore[no-any-return]

    def link(self, base_url: str, *segments: str, query: Mapping[str, Any] | None = None) -> str:
        """The absolute URL of `{prefix}/{segment}/…` on `base_url`, each segment percent-encoded."""
        path = "/".join(quote(segment, safe="") for segment in segments)
        url = f"{base_url.rstrip('/')}{self.prefix}/{path}"
        return f"{url}?{urlencode(query)}" if query else url

    def error_response(self, error: ApiError) -> Response:
        status = self.validation_status if error.status == 422 else error.status
        return Response(
            self.error_body(status, error.message, error.code), status=status, headers=error.headers
        )

    def exception_handler(self, exc: Exception, context: dict[str, Any]) -> Response:
        """DRF exception handler of the surface's views: every error in the surface's shape, unknown ones a
        logged 500."""
        try:
            error = classify(exc)
        except Exception:
            logger.exception("unhandled API error")
            error = ApiError(500, "Internal server error", "server_error")
        return self.error_response(error)

    def __repr__(self) -> str:
        return f"<Surface {self.name}>"
