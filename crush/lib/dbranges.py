"""The largest values the database columns hold: input integers are checked against them before saving, so
an out-of-range number is a 4xx naming the field, never the database's `integer out of range` (a 500)."""

from collections.abc import Mapping
from typing import Any

from django.db import connection
from django.db.models import IntegerField, Model

from crush.lib.errors import ValidationFailed

# PostgreSQL integer (PositiveIntegerField) and bigint (BigIntegerField).
INT_MAX = 2**31 - 1
BIGINT_MAX = 2**63 - 1


def column_range_check(model: type[Model], fields: Mapping[str, Any]) -> None:
    """ValidationFailed naming each integer field whose value the model's database column cannot hold."""
    errors: dict[str, list[str]] = {}
    for name, value in fields.items():
        if not isinstance(value, int) or isinstance(value, bool):
            continue
        field = model._meta.get_field(name)
        if not isinstance(field, IntegerField):
            continue
        low, high = connection.ops.integer_field_range(field.get_internal_type())
        if (low is not None and value < low) or (high is not None and value > high):
            errors[name] = [f"Must be between {low} and {high}."]
    if errors:
        raise ValidationFailed(errors)
