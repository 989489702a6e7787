"""Base views of both surfaces: authentication, throttling and the calling account (`request_account`)."""

import logging
from typing import Any

from django.conf import settings
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from accounts.authentication import BearerTokenAuthentication, ImageRecycleAuthentication
from accounts.models import Account

logger = logging.getLogger(__name__)
# What the cache backends raise when their server is away: django-redis, redis-py, the file cache.
CACHE_ERRORS = (ConnectionInterrupted, RedisError, OSError)


def request_account(request: Request) -> Account:
    """The calling account of a request an AccountApi authenticated (its `request.user`)."""
    account = request.user
    if not isinstance(account, Account):  # a view outside AccountApi, or authentication not run yet
        raise TypeError(f"request.user is {type(account).__name__}, not an Account")
    return account


class CredentialRateThrottle(SimpleRateThrottle):
    """Rate limit per API token (or key/secret pair), on the shared cache so every process counts together.

    It fails open: when the cache (Redis in production) does not answer, requests go through unlimited rather
    than the whole API answering 500 while Redis restarts.
    """

    scope = "token"

    def allow_request(self, request: Request, view: Any) -> bool:
        try:
            return super().allow_request(request, view)
        except CACHE_ERRORS as exc:
            logger.warning("rate limit not applied: the cache is unreachable (%s)", exc)
            return True

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
    """Every /v1/ view: Bearer token → the account (`request_account`)."""

    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [IsAuthenticated]
    throttle_classes = [CredentialRateThrottle]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # A method the path does not take is a 405 whoever asks: checked before authentication.
        method = request.method.lower()
        if method not in self.http_method_names or getattr(self, method, None) is None:
            self.http_method_not_allowed(request, *args, **kwargs)
        super().initial(request, *args, **kwargs)


class ImageRecycleApi(AccountApi):
    """Every /imagerecycle/v1/ view: the `auth` key/secret parameter → the account (`request_account`)."""

    authentication_classes = [ImageRecycleAuthentication]
