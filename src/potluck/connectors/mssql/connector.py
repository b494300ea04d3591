"""SQL Server connector: SQLAlchemy Core over ODBC (``mssql+pyodbc``; FreeTDS or Microsoft's driver).

A read is one SELECT with the projection, the entity keys (an expanding bound
``IN`` parameter, or a ``#temp`` key table when there are more keys than SQL
Server takes parameters) and the inclusive time window pushed down as bound
parameters; rows are turned into Arrow column by column. Identifiers are
quoted by the dialect (``[name]``, ``]`` doubled), so names cannot inject SQL.

Writes run in one transaction (SQL Server DDL is transactional): replace drops
and recreates the table inside it, so a failed write keeps the old table.
Inserts are batched ``executemany`` (pyodbc's ``fast_executemany``). Each
table's exact Arrow schema is kept in ``_potluck_schema`` and a hidden
``__potluck_row`` column keeps the write order; tables written by other
applications are reflected and read in the server's order. Timestamps are
stored as UTC ``DATETIME2(6)`` (microseconds); NaN is stored as NULL (SQL Server
floats have no NaN) and infinities are refused.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel
from sqlalchemy import Connection, Engine, MetaData, Table, delete, func, insert, inspect, select
from sqlalchemy.exc import NoSuchTableError, SQLAlchemyError

from potluck.connectors._arrow import (
    TS,
    conform,
    driver_errors,
    request_keys,
    resolve,
    schema_from_ipc,
    schema_to_ipc,
)
from potluck.connectors.base import Connector, ReadRequest, WriteMode
from potluck.connectors.mssql import _statements as sql
from potluck.connectors.mssql.config import MssqlConfig
from potluck.errors import DriverMissingError, RequestError, SourceError

__all__ = ["MssqlConnector"]

_INSTALL = "pip install 'potluck[mssql]' (and apt-get install unixodbc tdsodbc)"


def _python_values(column: pa.ChunkedArray | pa.Array) -> list[Any]:
    """Values the driver binds: naive UTC datetimes, dates, None for NaN."""
    t = column.type
    if t == TS:
        column = column.cast(pa.timestamp("us"))
    elif pa.types.is_floating(t):
        column = pc.if_else(pc.is_nan(column), pa.scalar(None, t), column)
    values: list[Any] = column.to_pylist()
    return values


def _arrow(values: list[Any], field: pa.Field) -> pa.Array:
    t = field.type
    if pa.types.is_null(t):
        return pa.nulls(len(values))
    if t == TS:  # DATETIME2 comes back naive: it is UTC
        return pa.array(values, pa.timestamp("us")).cast(TS)
    if pa.types.is_integer(t) and t != pa.uint64():
        return pa.array(values, pa.int64()).cast(t)
    if pa.types.is_floating(t):
        return pa.array(values, pa.float64()).cast(t)
    if t == pa.uint64():
        return pa.array([None if v is None else int(v) for v in values], pa.uint64())
    return pa.array(values, t)


class MssqlConnector(Connector):
    """Arrow tables in and out of one SQL Server database (one schema)."""

    kind: ClassVar[str] = "mssql"
    config_model: ClassVar[type[BaseModel]] = MssqlConfig
    config: MssqlConfig

    def __init__(self, source: str, config: MssqlConfig, *, engine: Engine | None = None) -> None:
        """``engine``: an existing SQLAlchemy engine to use instead of one built from ``config``."""
        super().__init__(source, config)
        self._engine = engine
        self._owns_engine = engine is None

    # -- errors and the engine ----------------------------------------------------

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """SQLAlchemy/ODBC errors leave as SourceError naming this source."""
        with driver_errors(self._error, SQLAlchemyError, OverflowError, pa.ArrowException):
            yield

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from sqlalchemy import create_engine

            try:
                import pyodbc  # noqa: F401 - fails here, with a hint, if the driver is missing
            except ImportError as exc:
                raise DriverMissingError("pyodbc", _INSTALL, "the SQL Server connector") from exc
            self._engine = create_engine(
                self.config.url(), fast_executemany=True, pool_pre_ping=True
            )
        return self._engine

    def _check_name(self, table: str) -> None:
        if not table or "\x00" in table or len(table) > 116 or table.startswith("#"):
            raise self._error(f"invalid table name {table!r}")
        if table.lower() == sql.META:
            raise self._error(f"table name '{table}' is reserved for potluck's schema metadata")

    def _stored(self, conn: Connection, table: str) -> tuple[pa.Schema, bool] | None:
        """(Arrow schema, written by potluck) of ``table``; None if it does not exist."""
        schema_name = self.config.db_schema
        inspector = inspect(conn)
        if not inspector.has_table(table, schema=schema_name):
            return None
        if inspector.has_table(sql.META, schema=schema_name):
            meta = sql.meta_table(schema_name)
            text = conn.execute(
                select(meta.c.arrow_ipc).where(meta.c.table_name == table)
            ).scalar_one_or_none()
            if text is not None:
                try:
                    return schema_from_ipc(text), True
                except (ValueError, pa.ArrowException) as exc:
                    raise self._error(
                        f"corrupt schema metadata for '{table}': {exc}", True
                    ) from exc
        try:
            reflected = Table(table, MetaData(), autoload_with=conn, schema=schema_name)
        except NoSuchTableError:
            return None
        fields = [pa.field(c.name, sql.arrow_type(c.type)) for c in reflected.columns]
        return pa.schema(fields), False

    def _missing(self, table: str) -> SourceError:
        return self._error(f"table '{table}' is missing from database '{self.config.database}'")

    # -- the contract --------------------------------------------------------------

    def _write(self, table: str, data: pa.Table, mode: WriteMode) -> int:
        """Write in one transaction: replace drops and recreates inside it."""
        with self._errors(), self.engine.begin() as conn:
            meta = sql.meta_table(self.config.db_schema)
            meta.create(conn, checkfirst=True)
            existing = self._stored(conn, table) if mode == "append" else None
            if existing is not None:
                schema, ours = existing
                if not ours:
                    raise self._error(f"cannot append to '{table}': it was not written by potluck")
                data = conform(data, schema, self._error)
                target = sql.data_table(table, schema, self.config.db_schema, ordered=True)
                offset = conn.execute(select(func.max(target.c[sql.ROW]))).scalar() or 0
                offset += 1
            else:
                target = sql.data_table(table, data.schema, self.config.db_schema, ordered=True)
                target.drop(conn, checkfirst=True)
                target.create(conn)
                conn.execute(delete(meta).where(meta.c.table_name == table))
                conn.execute(
                    insert(meta).values(table_name=table, arrow_ipc=schema_to_ipc(data.schema))
                )
                offset = 0
            self._insert(conn, target, data, offset)
        return int(data.num_rows)

    def _insert(self, conn: Connection, target: Table, data: pa.Table, offset: int) -> None:
        # SQLAlchemy turns column keys into escaped bind names: odd names stay parameters.
        keys = [c.key for c in target.columns]
        statement = insert(target)
        for batch in data.to_batches(max_chunksize=self.config.batch_size):
            columns = [_python_values(c) for c in batch.columns]
            rows = range(offset, offset + batch.num_rows)
            offset += batch.num_rows
            params = [dict(zip(keys, row, strict=True)) for row in zip(*columns, rows, strict=True)]
            if params:
                conn.execute(statement, params)

    def _check_writable(self, data: pa.Table) -> None:
        schema = data.schema
        if not schema.names:
            raise self._error("cannot write a table without columns", True)
        lowered = [n.lower() for n in schema.names]  # SQL Server names are case-insensitive
        twice = sorted({n for n in schema.names if lowered.count(n.lower()) > 1})
        if twice:
            raise self._error(f"duplicate column name(s) {twice}", True)
        bad = [f"{f.name} ({f.type})" for f in schema if sql.sql_type(f.type) is None]
        bad += [f"{n} (reserved)" for n in schema.names if n.lower() == sql.ROW]
        if bad:
            raise self._error(f"column(s) SQL Server cannot store: {', '.join(bad)}", True)
        for name, column in zip(schema.names, data.columns, strict=True):
            if pa.types.is_floating(column.type) and pc.any(pc.is_inf(column)).as_py():
                raise self._error(
                    f"column '{name}' holds infinity, which SQL Server cannot store", True
                )

    def schema(self, table: str) -> pa.Schema:
        self._check_name(table)
        with self._errors(), self.engine.connect() as conn:
            stored = self._stored(conn, table)
        if stored is None:
            raise self._missing(table)
        return stored[0]

    def read(self, request: ReadRequest) -> pa.Table:
        """One SELECT: projection, keys and time window pushed down as bound parameters."""
        self._check_name(request.table)
        with self._errors(), self.engine.connect() as conn:
            stored = self._stored(conn, request.table)
            if stored is None:
                raise self._missing(request.table)
            schema, ours = stored
            names = resolve(schema, request, self._error)
            target = pa.schema([schema.field(n) for n in names])
            rows = self._execute(conn, schema, ours, names, request)
            if not names:
                return pa.table({"_": pa.nulls(rows[0][0])}).select([])
            columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
            arrays = [_arrow(list(v), f) for v, f in zip(columns, target, strict=True)]
            return pa.Table.from_arrays(arrays, schema=target)

    def _execute(
        self,
        conn: Connection,
        schema: pa.Schema,
        ours: bool,
        names: list[str],
        request: ReadRequest,
    ) -> list[Any]:
        table = sql.data_table(request.table, schema, self.config.db_schema, ordered=ours)
        params: dict[str, Any] = {}
        if request.start is not None:
            params["window_start"] = sql.naive_utc(request.start)
        if request.end is not None:
            params["window_end"] = sql.naive_utc(request.end)
        keys_table = None
        if request.keys is not None and request.key_column is not None:
            field = schema.field(request.key_column)
            if pa.types.is_binary(field.type) or pa.types.is_large_binary(field.type):
                raise RequestError(f"cannot filter binary column '{field.name}' by keys")
            values = _python_values(request_keys(field, request.keys))
            if len(values) > sql.MAX_BOUND_KEYS:
                keys_table = sql.keys_table(uuid.uuid4().hex[:12], table.c[field.name].type)
                keys_table.create(conn)
                conn.execute(insert(keys_table), [{sql.KEYS_TABLE_COLUMN: v} for v in values])
            else:
                params["keys"] = values
        statement = sql.select_rows(table, names, request, keys=keys_table, ordered=ours)
        try:
            return list(conn.execute(statement, params).fetchall())
        finally:
            if keys_table is not None:
                keys_table.drop(conn)

    def ping(self) -> None:
        """The server accepts a connection and answers ``SELECT 1``."""
        with self._errors(), self.engine.connect() as conn:
            conn.execute(select(1)).scalar_one()

    def close(self) -> None:
        if self._owns_engine and self._engine is not None:
            self._engine.dispose()
            self._engine = None
