"""The largest values the database columns hold: input integers are checked against them before saving, so
an out-of-range number is a 4xx naming the field, never the database's `integer out of range` (a 500)."""

# PostgreSQL integer (PositiveIntegerField) and bigint (BigIntegerField).
INT_MAX = 2**31 - 1
BIGINT_MAX = 2**63 - 1
