"""Base views of both surfaces: authentication, throttling and `request.account`."""

from typing import Any

from django.conf import settings
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from accounts.authentication import BearerTokenAuthentication, ImageRecycleAuthentication


class CredentialRateThrottle(SimpleRateThrottle):
    """Rate limit per API token (or key/secret pair), on the shared cache so every process counts together."""

    scope = "token"

    def get_rate(self) -> str:
        return settings.CRUSH_RATE_LIMIT

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if request.auth is None:
            return None
        return self.cache_format % {
            "scope": self.scope,
            "ident": f"{type(request.auth).__name__}:{request.auth.pk}",
        }


class AccountApi(APIView):
    """Every /v1/ view: Bearer token → `request.account`."""

    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [IsAuthenticated]
    throttle_classes = [CredentialRateThrottle]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # A method the path does not take is a 405 whoever asks: checked before authentication.
        method = request.method.lower()
        if method not in self.http_method_names or getattr(self, method, None) is None:
            self.http_method_not_allowed(request, *args, **kwargs)
        super().initial(request, *args, **kwargs)
        request.account = request.user  # type: ignore[attr-defined]


class ImageRecycleApi(AccountApi):
    """Every /imagerecycle/v1/ view: the `auth` key/secret parameter → `request.account`."""

    authentication_classes = [ImageRecycleAuthentication]
