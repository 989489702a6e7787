"""API routes match with and without a trailing slash (clients send both); none redirects."""

from collections.abc import Callable
from typing import Any

from django.urls import URLPattern, path


def slash_optional(route: str, view: Callable[..., Any], name: str) -> list[URLPattern]:
    route = route.rstrip("/")
    return [path(route, view, name=name), path(f"{route}/", view)]
