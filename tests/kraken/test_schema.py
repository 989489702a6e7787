"""The OpenAPI schema documents every Kraken route, in the surface's error shape, without generator errors or
warnings about them."""

from __future__ import annotations

from typing import Any

import pytest
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator

OPERATIONS = ["/kraken/v1/url", "/kraken/v1/upload", "/kraken/user_status"]


@pytest.fixture(scope="module")
def generated() -> tuple[dict[str, Any], list[str]]:
    GENERATOR_STATS.reset()
    with GENERATOR_STATS.silence():
        schema = SchemaGenerator().get_schema(request=None, public=True)
    messages = [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache]
    return schema, [str(message) for message in messages if "kraken" in str(message).lower()]


def test_schema_documents_the_kraken_operations_with_their_errors(
    generated: tuple[dict[str, Any], list[str]],
) -> None:
    schema, messages = generated

    assert messages == []
    for path in OPERATIONS:
        operation = schema["paths"][path]["post"]
        assert operation["security"] == [{"krakenAuth": []}]
        assert {"401", "402", "403", "429"} <= set(operation["responses"])
    assert {"413", "415", "422"} <= set(schema["paths"]["/kraken/v1/upload"]["post"]["responses"])
    assert "/kraken/files/{token}/{name}" in schema["paths"]
