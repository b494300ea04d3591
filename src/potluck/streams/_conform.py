"""A batch's JSON objects conformed to the source's schema (both validation paths)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import pyarrow as pa

from potluck.ingest.conform import conform

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
    return conform(table, schema, required=required)
