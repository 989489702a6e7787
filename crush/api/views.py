"""The base view of every API surface: the surface's authentication, errors and rate limit."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from django.http import HttpResponse
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crush.api.surface import Surface
from crush.api.throttling import CredentialRateThrottle


def base_url(request: Request) -> str:
    """The absolute base links are built from (the request's scheme and host), without a trailing slash."""
    return request.build_absolute_uri("/").rstrip("/")


class SurfaceErrorsMixin:
    """DRF asks the view for its exception handler: the view's surface renders every error."""

    surface: ClassVar[Surface]

    def get_exception_handler(self) -> Callable[[Exception, dict[str, Any]], Response]:
        return self.surface.exception_handler


class SurfaceApi(SurfaceErrorsMixin, APIView):
    """Every view of a surface subclasses the surface's base (crush.api.surfaces); the surface's
    authentication finds the calling account (`accounts.authentication.request_account`)."""

    authentication_classes: Sequence[type[BaseAuthentication]] | None = None  # type: ignore[assignment]  # None: the surface's
    permission_classes = [IsAuthenticated]
    throttle_classes = [CredentialRateThrottle]

    def get_authenticators(self) -> list[BaseAuthentication]:
        classes = self.authentication_classes
        if classes is None:
            classes = [self.surface.authentication_class]
        return [authentication() for authentication in classes]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # A method the path does not take is a 405 whoever asks: checked before authentication.
        method = (request.method or "").lower()
        if method not in self.http_method_names or getattr(self, method, None) is None:
            self.http_method_not_allowed(request, *args, **kwargs)
        super().initial(request, *args, **kwargs)


class PublicSurfaceApi(SurfaceApi):
    """A view of the surface anyone may call (downloads by secret token, the OpenAPI schema)."""

    authentication_classes: Sequence[type[BaseAuthentication]] | None = []  # type: ignore[assignment]
    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []


class JsonErrorsMixin:
    """For API views whose success is not JSON (the OpenAPI YAML, the Swagger UI page): their errors still
    are, whatever renderer the request negotiated."""

    def finalize_response(self, request: Request, response: HttpResponse, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        if isinstance(response, Response) and response.status_code >= 400:
            response.accepted_renderer = JSONRenderer()
            response.accepted_media_type = JSONRenderer.media_type
        return response
