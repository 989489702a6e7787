"""The OpenAPI schema documents every ImageRecycle route of API.md §2, without generator errors or warnings
about them."""

from __future__ import annotations

from typing import Any

import pytest
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator

PREFIX = "/imagerecycle/v1/"
# API.md §2, as the schema spells the paths (path parameters named after the URL patterns).
OPERATIONS = [
    ("accounts/mine", "get"),
    ("accounts/mine/consumption", "get"),
    ("accounts/sub", "get"),
    ("accounts/sub", "post"),
    ("accounts/sub/{sub_account_id}", "get"),
    ("accounts/sub/{sub_account_id}", "put"),
    ("accounts/sub/{sub_account_id}", "delete"),
    ("accounts/sub/reset_secret/{sub_account_id}", "put"),
    ("accounts/sub/reset_quota/{sub_account_id}", "put"),
    ("images", "get"),
    ("images", "post"),
    ("images/{image_id}", "get"),
    ("images/{image_id}", "delete"),
    ("images/all", "delete"),
    ("images/{kind}/{token}/{name}", "get"),
    ("images/zip/{kind}/{ids}", "get"),
]


@pytest.fixture(scope="module")
def generated() -> tuple[dict[str, Any], list[str]]:
    """The schema and the generator's messages (errors and warnings) that concern this surface."""
    GENERATOR_STATS.reset()
    with GENERATOR_STATS.silence():
        schema = SchemaGenerator().get_schema(request=None, public=True)
    messages = [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache]
    GENERATOR_STATS.reset()
    return schema, [message for message in messages if "imagerecycle" in message.lower()]


@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_schema_documents_every_imagerecycle_operation(
    generated: tuple[dict[str, Any], list[str]], path: str, method: str
) -> None:
    schema, _ = generated

    operation = schema["paths"].get(PREFIX + path, {}).get(method)

    assert operation is not None, f"{method.upper()} {path} missing"
    assert operation["operationId"].startswith("imagerecycle_")
    assert {"200", "201", "204"} & set(operation["responses"])


def test_schema_generation_reports_nothing_about_imagerecycle(
    generated: tuple[dict[str, Any], list[str]],
) -> None:
    _, messages = generated

    assert messages == []


def test_schema_operation_ids_are_unique_per_method(generated: tuple[dict[str, Any], list[str]]) -> None:
    schema, _ = generated

    operation_ids = [
        operation["operationId"]
        for path, item in schema["paths"].items()
        if path.startswith(PREFIX)
        for operation in item.values()
    ]

    assert len(operation_ids) == len(set(operation_ids))
    assert not any(operation_id[-1].isdigit() for operation_id in operation_ids)  # no numeral suffixes


def test_schema_downloads_are_binary_and_errors_in_the_surfaces_shape(
    generated: tuple[dict[str, Any], list[str]],
) -> None:
    schema, _ = generated
    paths = schema["paths"]

    download = paths[PREFIX + "images/{kind}/{token}/{name}"]["get"]
    zipped = paths[PREFIX + "images/zip/{kind}/{ids}"]["get"]

    for operation in (download, zipped):
        (content,) = operation["responses"]["200"]["content"].values()
        assert content["schema"] == {"type": "string", "format": "binary"}
        error = operation["responses"]["404"]["content"]["application/json"]["schema"]
        assert error == {"$ref": "#/components/schemas/ImageRecycleError"}
    assert set(schema["components"]["schemas"]["ImageRecycleError"]["properties"]) >= {
        "errCode",
        "errMessage",
    }
    assert "security" not in download  # no auth: the token in the link is the credential
    assert zipped["security"] == [{"imageRecycleAuth": []}]
