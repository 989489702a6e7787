"""OpenAPI tweaks: every route is served with and without a trailing slash, the schema lists it once."""

from typing import Any

Endpoint = tuple[str, str, str, Any]


def one_path_per_route(endpoints: list[Endpoint], **kwargs: Any) -> list[Endpoint]:
    """Drops `/x/` when `/x` is also routed (drf-spectacular preprocessing hook)."""
    routed = {(path, method) for path, _, method, _ in endpoints}
    return [
        (path, regex, method, callback)
        for path, regex, method, callback in endpoints
        if not (path.endswith("/") and (path.rstrip("/"), method) in routed)
    ]
