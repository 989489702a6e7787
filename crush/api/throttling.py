"""The rate limit of every authenticated API view (CRUSH_RATE_LIMIT per credential)."""

import logging
from typing import Any

from django.conf import settings
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

logger = logging.getLogger(__name__)
# What the cache backends raise when their server is away: django-redis, redis-py, the file cache.
CACHE_ERRORS = (ConnectionInterrupted, RedisError, OSError)


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
