"""SQL text and Arrow <-> PostgreSQL types of the postgres connector (private).

Identifiers are always double-quoted with embedded quotes doubled, so a table
or column name is read as a name whatever it contains; every value (keys, time
bounds, table names given to catalog functions) travels as a bound parameter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

__all__ = [
    "META",
    "ROW",
    "Select",
    "pg_type",
    "quote",
    "storage_type",
]

META = "_potluck_schema"  # table -> exact Arrow schema written with it
ROW = "_potluck_row"  # hidden identity column: write order, so reads return rows in it

# Arrow type -> (PostgreSQL column type, Arrow type sent through COPY). Types the
# driver cannot send as they are travel as the narrowest wider type; read-back
# casts to the exact Arrow type kept in META.
_TYPES: list[tuple[Callable[[pa.DataType], bool], str, pa.DataType | None]] = [
    (pa.types.is_null, "text", pa.string()),
    (pa.types.is_boolean, "boolean", None),
    (pa.types.is_int8, "smallint", pa.int16()),
    (pa.types.is_uint8, "smallint", pa.int16()),
    (pa.types.is_int16, "smallint", None),
    (pa.types.is_uint16, "integer", pa.int32()),
    (pa.types.is_int32, "integer", None),
    (pa.types.is_uint32, "bigint", pa.int64()),
    (pa.types.is_int64, "bigint", None),
    (pa.types.is_float32, "real", None),
    (pa.types.is_float64, "double precision", None),
    (pa.types.is_string, "text", None),
    (pa.types.is_large_string, "text", pa.string()),
    (pa.types.is_binary, "bytea", None),
    (pa.types.is_large_binary, "bytea", pa.binary()),
    (pa.types.is_date32, "date", None),
    (pa.types.is_timestamp, "timestamptz", None),  # normalized to us/UTC before writing
]


def quote(name: str) -> str:
    """A SQL identifier that is always read as a name, whatever it contains."""
    return '"' + name.replace('"', '""') + '"'


def pg_type(t: pa.DataType) -> str | None:
    """The column type storing ``t`` exactly, or None if unsupported (uint64, nested, ...)."""
    return next((sql for check, sql, _ in _TYPES if check(t)), None)


def storage_type(t: pa.DataType) -> pa.DataType:
    """The Arrow type a column of ``t`` is sent as through COPY."""
    return next((wire or t for check, _, wire in _TYPES if check(t)), t)


@dataclass
class Select:
    """A SELECT under construction: predicates and their positional parameters."""

    relation: str
    where: list[str] = field(default_factory=list)
    params: dict[str, pa.Array] = field(default_factory=dict)

    def bind(self, predicate: Callable[[str], str], value: pa.Array) -> None:
        """Add ``predicate(placeholder)`` with its one-row ``value`` bound to the placeholder.

        A callable, not ``str.format``: quoted names may contain braces."""
        placeholder = f"${len(self.params) + 1}"
        self.where.append(predicate(placeholder))
        self.params[placeholder] = value

    def sql(self, projection: str, order: str | None) -> str:
        text = f"SELECT {projection} FROM {self.relation}"
        if self.where:
            text += " WHERE " + " AND ".join(self.where)
        return text + (f" ORDER BY {order}" if order else "")

    def batch(self) -> pa.RecordBatch | None:
        if not self.params:
            return None
        return pa.RecordBatch.from_arrays(
            list(self.params.values()), names=[f"p{i}" for i in range(1, len(self.params) + 1)]
        )

    def shown(self) -> dict[str, Any]:
        """The parameters as plain values, for ``last_statement`` and logs."""
        return {name: value[0].as_py() for name, value in self.params.items()}
