"""gunicorn reads this file from its working directory: `make run` (Procfile) and the Docker image."""

from typing import Any


def post_worker_init(worker: Any) -> None:
    """The server's own error answers (requests it cannot parse) in JSON, as on every API path."""
    from crush.webserver import json_error_pages

    json_error_pages(worker)
