"""A batch's JSON objects conformed to the source's schema (both validation paths)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pyarrow as pa

from potluck.ingest.conform import ConformError, conform

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

__all__ = ["conform_table"]


def conform_table(table: pa.Table, schema: pa.Schema, required: Sequence[str]) -> pa.Table:
    """``conform`` of the table of a batch's JSON objects (as ``Table.from_pylist`` of
    them gives it)."""
    for i, name in enumerate(table.column_names):
        # ISO 8601 text with a zone: Arrow parses it natively (conform's general path
        # goes through pandas); anything else is left to conform
        want = schema.field(name).type if name in schema.names else None
        if (
            want is not None
            and pa.types.is_timestamp(want)
            and pa.types.is_string(table.schema.field(i).type)
        ):
            with contextlib.suppress(pa.ArrowInvalid, pa.ArrowNotImplementedError):
                table = table.set_column(i, name, table[name].cast(pa.timestamp("us", tz="UTC")))
    out = conform(table, schema, required=required)
    _check_times(out)
    return out


# What a Python datetime can hold: Arrow's cast takes "0000-01-01" (or year 99999), and
# such a time would break every later step that makes a datetime of it (dead letters,
# the offline append, reads).
_MIN_US = (datetime.min.replace(tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1)
_MAX_US = (datetime.max.replace(tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1)


def _check_times(table: pa.Table) -> None:
    import pyarrow.compute as pc

    for field in table.schema:
        if pa.types.is_timestamp(field.type) and table.num_rows:
            column = table[field.name].cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
            bounds = pc.min_max(column)
            low, high = bounds["min"].as_py(), bounds["max"].as_py()
            if low is not None and (low < _MIN_US or high > _MAX_US):
                raise ConformError([f"'{field.name}' is outside the years 1 to 9999"])
