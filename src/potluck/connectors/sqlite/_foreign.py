"""Reading SQLite tables potluck did not write (a ``pandas.to_sql`` table, another tool's).

Such a table has no Arrow schema in ``_potluck_schema``, so its types come from the
column declarations, by SQLite's own affinity rules plus the names tools write for
times: ``TIMESTAMP``/``DATETIME`` -> ``timestamp[us, UTC]`` (ISO text, naive taken as
UTC, as ``pandas.to_sql`` stores it), ``DATE`` -> ``date32``, ``BOOL*`` -> ``bool``,
``*INT*`` -> ``int64``, ``*CHAR*``/``*CLOB*``/``*TEXT*`` -> ``string``,
``REAL``/``FLOA*``/``DOUB*``/``NUMERIC``/``DECIMAL`` -> ``float64``. A value that does not
fit its column's declared type is refused with the column, the row and how to fix it.
(private)
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import pandas as pd
import pyarrow as pa

__all__ = ["declared_schema", "foreign_array"]

TS = pa.timestamp("us", "UTC")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _arrow_type(declared: str) -> pa.DataType | None:
    text = declared.upper()
    if "TIMESTAMP" in text or "DATETIME" in text:
        return TS
    if text == "DATE":
        return pa.date32()
    if "BOOL" in text:
        return pa.bool_()
    if "INT" in text:
        return pa.int64()
    if any(word in text for word in ("CHAR", "CLOB", "TEXT")):
        return pa.string()
    if any(word in text for word in ("REAL", "FLOA", "DOUB", "NUMERIC", "DECIMAL")):
        return pa.float64()
    return None  # BLOB or no declared type: nothing to go by


def declared_schema(conn: sqlite3.Connection, table: str, fix: str) -> pa.Schema:
    """The Arrow schema read from the table's column declarations.

    ValueError (with ``fix``) when a column declares no usable type."""
    columns = conn.execute(f"PRAGMA table_info({_quote(table)})").fetchall()
    fields, unknown = [], []
    for _cid, name, declared, *_ in columns:
        kind = _arrow_type(declared or "")
        if kind is None:
            unknown.append(f"{name} ({declared or 'no type'})")
        else:
            fields.append(pa.field(name, kind))
    if unknown:
        raise ValueError(
            f"table '{table}' was not written by potluck and column(s) {', '.join(unknown)} "
            f"declare no type potluck can read: {fix}"
        )
    return pa.schema(fields)


def _refuse(table: str, field: pa.Field, values: Sequence[Any], row: int, fix: str) -> ValueError:
    return ValueError(
        f"table '{table}' was not written by potluck: column '{field.name}' is declared "
        f"{field.type} but row {row + 1} holds {values[row]!r}: {fix}"
    )


def _times(table: str, field: pa.Field, values: Sequence[Any], fix: str) -> pa.Array:
    for row, value in enumerate(values):
        if value is not None and not isinstance(value, str):
            raise _refuse(table, field, values, row, fix)  # epoch numbers: seconds? ms? refuse
    parsed = pd.to_datetime(
        pd.Series(values, dtype=object), errors="coerce", utc=True, format="ISO8601"
    )
    bad = parsed.isna().to_numpy() & pd.Series(values, dtype=object).notna().to_numpy()
    if bad.any():
        raise _refuse(table, field, values, int(bad.argmax()), fix)
    array = pa.array(parsed, pa.timestamp("ns", "UTC"))
    return array.cast(TS, safe=False) if field.type == TS else array.cast(pa.date32(), safe=False)


def foreign_array(table: str, field: pa.Field, values: Sequence[Any], fix: str) -> pa.Array:
    """One column's stored values as ``field.type``; ValueError naming the first misfit."""
    if pa.types.is_timestamp(field.type) or pa.types.is_date32(field.type):
        return _times(table, field, values, fix)
    if pa.types.is_string(field.type):
        return pa.array([None if v is None else str(v) for v in values], pa.string())
    wanted = (float, int) if pa.types.is_floating(field.type) else (int,)
    for row, value in enumerate(values):
        if value is not None and (not isinstance(value, wanted) or isinstance(value, bool)):
            raise _refuse(table, field, values, row, fix)
    if pa.types.is_boolean(field.type):
        for row, value in enumerate(values):
            if value not in (None, 0, 1):
                raise _refuse(table, field, values, row, fix)
        return pa.array([None if v is None else bool(v) for v in values], pa.bool_())
    return pa.array(values, field.type)
