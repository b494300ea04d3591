"""Arrow tables to what Spark can store, and back, exactly (private).

Spark has no unsigned integers, no null type in Parquet and one string/binary
width, so some Arrow types are stored as a wider Spark type. Each stored column
carries its original Arrow field in Spark's column metadata (kept in the
Parquet footer and in catalog tables), which is what lets ``read`` hand back
exactly what was written. Columns without that metadata (tables written by
other Spark jobs) keep the Arrow types Spark gives them.

Two hidden columns record the write order (a write id and a row number) because
Spark reads a directory's files in no particular order.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from potluck.connectors._arrow import schema_from_ipc, schema_to_ipc

__all__ = [
    "ARROW_KEY",
    "HIDDEN",
    "ROW",
    "WRITE",
    "arrow_meta",
    "from_storage",
    "stored_schema",
    "to_storage",
    "unsupported",
]

ARROW_KEY = "potluck.arrow"
WRITE = "__potluck_write"
ROW = "__potluck_row"
HIDDEN = (WRITE, ROW)

_STORAGE: dict[pa.DataType, pa.DataType] = {
    pa.uint8(): pa.int16(),
    pa.uint16(): pa.int32(),
    pa.uint32(): pa.int64(),
    pa.uint64(): pa.decimal128(20, 0),
    pa.null(): pa.string(),
    pa.large_string(): pa.string(),
    pa.large_binary(): pa.binary(),
}
_PLAIN = (
    pa.types.is_boolean,
    pa.types.is_signed_integer,
    pa.types.is_floating,
    pa.types.is_string,
    pa.types.is_binary,
    pa.types.is_date32,
    pa.types.is_timestamp,
    pa.types.is_decimal,
)


def unsupported(schema: pa.Schema) -> list[str]:
    """Columns whose type this connector cannot store, as ``name (type)``."""
    return [
        f"{f.name} ({f.type})"
        for f in schema
        if f.type not in _STORAGE and not any(check(f.type) for check in _PLAIN)
    ]


def to_storage(data: pa.Table) -> tuple[pa.Table, dict[str, str]]:
    """(the table in Spark-storable types, column -> metadata JSON naming its Arrow field)."""
    columns, metadata = [], {}
    for field, column in zip(data.schema, data.columns, strict=True):
        storage = _STORAGE.get(field.type)
        if storage is not None:
            column = column.cast(storage)
        elif pa.types.is_float16(field.type):
            column = column.cast(pa.float32())
        columns.append(column)
        metadata[field.name] = schema_to_ipc(pa.schema([field]))
    return pa.Table.from_arrays(columns, names=data.column_names), metadata


def stored_schema(metas: Sequence[str | None], spark_arrow: pa.Schema) -> pa.Schema:
    """The Arrow schema of a stored table from each visible column's potluck metadata.

    ``spark_arrow`` is what Spark's own Arrow conversion gives each column; it stands in
    for columns written without potluck's metadata.
    """
    out = []
    for meta, fallback in zip(metas, spark_arrow, strict=True):
        if meta is not None:
            out.append(schema_from_ipc(meta).field(0))
        else:
            out.append(fallback.remove_metadata())
    return pa.schema(out)


def from_storage(result: pa.Table, target: pa.Schema) -> pa.Table:
    """Spark's Arrow result cast back to the stored Arrow types."""
    arrays = []
    for column, field in zip(result.columns, target, strict=True):
        if pa.types.is_null(field.type):
            arrays.append(pa.chunked_array([pa.nulls(len(column))], pa.null()))
        elif column.type != field.type:
            arrays.append(column.cast(field.type))
        else:
            arrays.append(column)
    return pa.Table.from_arrays(arrays, schema=target)


def arrow_meta(metadata: dict[str, object]) -> str | None:
    """The Arrow field potluck stored in a Spark column's metadata, if any."""
    value = metadata.get(ARROW_KEY)
    return value if isinstance(value, str) else None
