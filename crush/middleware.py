"""Request ids on every response and log line; the HTTPS rule and the CSRF exemption of the API surfaces."""

import ipaddress
import logging
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.middleware.csrf import CsrfViewMiddleware

from crush.api.handlers import error_json
from crush.api.surfaces import surface_of

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_request_id: ContextVar[str] = ContextVar("request_id", default="-")
logger = logging.getLogger(__name__)


class RequestIdLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        return True


def request_id_start(incoming: str) -> str:
    """The id of the request being served: the caller's X-Request-ID when well formed, else a new one.

    Not reset on the way out: Django logs 4xx/5xx responses after the middleware chain has returned.
    """
    request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
    _request_id.set(request_id)
    return request_id


class RequestIdMiddleware:
    """Takes a well-formed X-Request-ID from the caller or makes one; echoes it and logs with it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_start(request.headers.get(REQUEST_ID_HEADER, ""))
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        surface = surface_of(request.path)
        if surface is None:
            return None
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return error_json(surface, 500, "Internal server error", "server_error")


def _is_trusted_proxy(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(
        ip in ipaddress.ip_network(network, strict=False) for network in settings.CRUSH_TRUSTED_PROXIES
    )


class RequireHttpsMiddleware:
    """Marks requests forwarded as HTTPS by a trusted proxy as secure, and refuses plain-HTTP API calls.

    A redirect would make clients resend their token in clear, so the answer is a 403, never a 301.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        forwarded_proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
        if forwarded_proto == "https" and _is_trusted_proxy(request.META.get("REMOTE_ADDR", "")):
            request.META["wsgi.url_scheme"] = "https"
            request.environ["wsgi.url_scheme"] = "https"  # type: ignore[attr-defined]
        surface = surface_of(request.path)
        if settings.CRUSH_REQUIRE_HTTPS and surface is not None and not request.is_secure():
            return error_json(surface, 403, "HTTPS is required", "https_required")
        return self.get_response(request)


class CsrfExceptApiMiddleware(CsrfViewMiddleware):
    """Django's CSRF protection everywhere but on the API surfaces.

    API calls authenticate with a Bearer token or an ImageRecycle key/secret, never with the session cookie,
    so a forged cross-site request carries no credentials; checking CSRF there only turned POST/PUT/PATCH/
    DELETE to an unknown API path into Django's HTML 403 page. The admin keeps the check.
    """

    def process_view(
        self,
        request: HttpRequest,
        callback: Callable[..., Any],
        callback_args: tuple[Any, ...],
        callback_kwargs: dict[str, Any],
    ) -> HttpResponseForbidden | None:
        if surface_of(request.path) is not None:
            return None
        return super().process_view(request, callback, callback_args, callback_kwargs)
