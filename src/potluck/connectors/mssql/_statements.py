"""The SQLAlchemy Core statements of the SQL Server connector (private).

Everything is built with Core, never with string formatting: identifiers are
quoted by the dialect (``[name]`` with ``]`` doubled on SQL Server) and every
value is a bound parameter. Entity keys are one expanding ``IN`` parameter, or,
past :data:`MAX_BOUND_KEYS` (SQL Server takes at most 2,100 parameters per
statement), a ``#temp`` table joined with ``IN (SELECT ...)``. The same
statements run on any SQLAlchemy dialect, which is how they are exercised
without a server.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pyarrow as pa
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Double,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    Select,
    SmallInteger,
    Table,
    Unicode,
    UnicodeText,
    bindparam,
    func,
    select,
)
from sqlalchemy.dialects import mssql
from sqlalchemy.sql.elements import ColumnElement, quoted_name
from sqlalchemy.types import TypeEngine

from potluck.connectors._arrow import TS, utc
from potluck.connectors.base import ReadRequest

__all__ = [
    "KEYS_TABLE_COLUMN",
    "MAX_BOUND_KEYS",
    "META",
    "ROW",
    "arrow_type",
    "data_table",
    "keys_table",
    "meta_table",
    "naive_utc",
    "select_rows",
    "sql_type",
]

META = "_potluck_schema"
ROW = "__potluck_row"  # write order: SQL Server tables have none of their own
MAX_BOUND_KEYS = 1_000
KEYS_TABLE_COLUMN = "k"

_TIMESTAMP = DateTime().with_variant(mssql.DATETIME2(precision=6), "mssql")
_DOUBLE: TypeEngine[float] = Double().with_variant(mssql.FLOAT(precision=53), "mssql")
_REAL: TypeEngine[float] = Double().with_variant(mssql.REAL(), "mssql")
# Explicit SQL Server types: the generic ones compile to NTEXT/IMAGE/DATETIME until the
# dialect has seen the server's version, and those are deprecated or inexact.
_TEXT = UnicodeText().with_variant(mssql.NVARCHAR("max"), "mssql")  # type: ignore[arg-type]  # "max" is the documented spelling; the stubs only know int
_BINARY = LargeBinary().with_variant(mssql.VARBINARY(None), "mssql")
_DATE = Date().with_variant(mssql.DATE(), "mssql")
_TYPES: list[tuple[Any, TypeEngine[Any]]] = [
    (pa.types.is_boolean, Boolean()),
    (lambda t: t in (pa.int8(), pa.int16(), pa.uint8()), SmallInteger()),
    (lambda t: t in (pa.int32(), pa.uint16()), Integer()),
    (lambda t: t in (pa.int64(), pa.uint32()), BigInteger()),
    (lambda t: t == pa.uint64(), Numeric(20, 0)),
    (pa.types.is_float32, _REAL),
    (pa.types.is_float64, _DOUBLE),
    (
        lambda t: pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t),
        _TEXT,
    ),
    (lambda t: pa.types.is_binary(t) or pa.types.is_large_binary(t), _BINARY),
    (pa.types.is_date32, _DATE),
    (lambda t: t == TS, _TIMESTAMP),
]


def sql_type(t: pa.DataType) -> TypeEngine[Any] | None:
    """The column type storing Arrow type ``t`` exactly, or None if unsupported."""
    return next((sql for check, sql in _TYPES if check(t)), None)


def arrow_type(sql: TypeEngine[Any]) -> pa.DataType:
    """The Arrow type of a reflected column of a table potluck did not write."""
    try:
        python = sql.python_type
    except NotImplementedError:
        return pa.string()
    if python is datetime:
        return TS
    mapping: dict[type, pa.DataType] = {
        bool: pa.bool_(),
        int: pa.int64(),
        float: pa.float64(),
        bytes: pa.binary(),
    }
    if python.__name__ == "date":
        return pa.date32()
    if python.__name__ == "Decimal":
        return pa.float64()
    return mapping.get(python, pa.string())


def _name(name: str) -> quoted_name:
    # Always quoted: case, reserved words and punctuation are kept as written.
    return quoted_name(name, quote=True)


def data_table(name: str, schema: pa.Schema, db_schema: str | None, *, ordered: bool) -> Table:
    """The table's Core definition (with the hidden write-order column when ``ordered``)."""
    columns = [Column(_name(f.name), sql_type(f.type) or _TEXT) for f in schema]
    if ordered:
        columns.append(Column(_name(ROW), BigInteger(), nullable=False))
    return Table(_name(name), MetaData(), *columns, schema=_name(db_schema) if db_schema else None)


def meta_table(db_schema: str | None) -> Table:
    """``_potluck_schema``: the exact Arrow schema of every table potluck wrote."""
    return Table(
        _name(META),
        MetaData(),
        Column("table_name", Unicode(256), primary_key=True),
        Column("arrow_ipc", _TEXT, nullable=False),
        schema=_name(db_schema) if db_schema else None,
    )


def keys_table(suffix: str, key_type: TypeEngine[Any]) -> Table:
    """A session ``#temp`` table holding many entity keys (a plain table elsewhere)."""
    return Table(_name(f"#potluck_keys_{suffix}"), MetaData(), Column(KEYS_TABLE_COLUMN, key_type))


def naive_utc(moment: datetime) -> datetime:
    """DATETIME2 has no zone: potluck stores UTC wall time."""
    return utc(moment).replace(tzinfo=None)


def _where(table: Table, request: ReadRequest, keys: Table | None) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if request.keys is not None and request.key_column is not None:
        key = table.c[request.key_column]
        if keys is None:
            where.append(key.in_(bindparam("keys", expanding=True)))
        else:
            where.append(key.in_(select(keys.c[KEYS_TABLE_COLUMN])))
    if request.timestamp_column is not None:
        ts = table.c[request.timestamp_column]
        if request.start is not None:
            where.append(ts >= bindparam("window_start", type_=ts.type))
        if request.end is not None:
            where.append(ts <= bindparam("window_end", type_=ts.type))
    return where


def select_rows(
    table: Table,
    names: Sequence[str],
    request: ReadRequest,
    *,
    keys: Table | None = None,
    ordered: bool,
) -> Select[Any]:
    """SELECT the columns with the key filter and the inclusive window as bound parameters.

    Keys bind as ``:keys`` (expanding) unless a ``keys`` table is given; the window as
    ``:window_start`` / ``:window_end``. No columns: ``SELECT count(*)`` with the same filter.
    """
    where = _where(table, request, keys)
    if not names:
        return select(func.count()).select_from(table).where(*where)
    statement = select(*[table.c[n] for n in names]).where(*where)
    return statement.order_by(table.c[ROW]) if ordered else statement
