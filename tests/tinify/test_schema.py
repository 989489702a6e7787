"""The OpenAPI schema documents every Tinify route, without generator errors or warnings about them."""

from __future__ import annotations

from typing import Any

import pytest
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator

OPERATIONS = [
    ("/tinify/shrink", "post", "201"),
    ("/tinify/output/{output_id}", "get", "200"),
    ("/tinify/output/{output_id}", "post", "200"),
]


@pytest.fixture(scope="module")
def generated() -> tuple[dict[str, Any], list[str]]:
    """The schema and the generator's messages (errors and warnings) that concern this surface."""
    GENERATOR_STATS.reset()
    with GENERATOR_STATS.silence():
        schema = SchemaGenerator().get_schema(request=None, public=True)
    messages = [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache]
    GENERATOR_STATS.reset()
    return schema, [message for message in messages if "tinify" in message.lower()]


@pytest.mark.parametrize(("path", "method", "status"), OPERATIONS)
def test_schema_documents_every_tinify_operation(
    generated: tuple[dict[str, Any], list[str]], path: str, method: str, status: str
) -> None:
    schema, _ = generated

    operation = schema["paths"].get(path, {}).get(method)

    assert operation is not None, f"{method.upper()} {path} missing"
    assert operation["operationId"].startswith("tinify_")
    assert status in operation["responses"] and "401" in operation["responses"]


def test_schema_generation_reports_nothing_about_tinify(generated: tuple[dict[str, Any], list[str]]) -> None:
    _, messages = generated

    assert messages == []
