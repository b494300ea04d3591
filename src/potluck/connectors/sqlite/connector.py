"""SQLite connector: the embedded stand-in for PostgreSQL and SQL Server tables.

Everything a :class:`ReadRequest` asks for is pushed down into one SQL
statement: the projection, the key filter (``IN (SELECT value FROM
json_each(?))`` with the keys as a single JSON parameter, so no key is ever
spliced into SQL text and the statement is the same for 1 or 10,000 keys) and
the time window (bound parameters). Identifiers are always double-quoted with
embedded quotes doubled, so table and column names cannot inject SQL.

SQLite only knows INTEGER/REAL/TEXT/BLOB, so each table's exact Arrow schema is
kept in ``_potluck_schema`` and restored on read. Timestamps are stored as
INTEGER microseconds since the epoch (UTC): exact, compact and compared as
integers by the time window; dates as INTEGER days. SQLite turns NaN into NULL
and loses the sign of -0.0; everything else round-trips exactly.

One connection is opened per call: opening SQLite is microseconds, and it keeps
the connector thread-safe without locks. Reads use a read-only connection so
they never create a database file.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pyarrow as pa
from pydantic import BaseModel

from potluck.connectors._arrow import (
    conform,
    filter_expression,
    request_keys,
    resolve,
    schema_from_ipc,
    schema_to_ipc,
    utc,
)
from potluck.connectors.base import Connector, ReadRequest, WriteMode
from potluck.connectors.sqlite._foreign import declared_schema, foreign_array
from potluck.connectors.sqlite.config import SqliteConfig
from potluck.errors import PotluckError, RequestError, SourceError

__all__ = ["SqliteConnector"]

_META = "_potluck_schema"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_BATCH_ROWS = 50_000  # bounds the Python objects alive during a write
_FIX = (
    "fix the values or the column's declared type (TIMESTAMP as ISO text, INTEGER, REAL, "
    "TEXT), or export the table and bring it in with `potluck load SOURCE FILE`"
)


def _quote(name: str) -> str:
    """A SQL identifier that is always read as a name, whatever it contains."""
    return '"' + name.replace('"', '""') + '"'


_AFFINITY: list[tuple[Callable[[pa.DataType], bool], str]] = [
    (pa.types.is_null, ""),
    (lambda t: pa.types.is_boolean(t) or pa.types.is_integer(t), "INTEGER"),
    (lambda t: pa.types.is_date32(t) or pa.types.is_timestamp(t), "INTEGER"),
    (lambda t: pa.types.is_float32(t) or pa.types.is_float64(t), "REAL"),
    (lambda t: pa.types.is_string(t) or pa.types.is_large_string(t), "TEXT"),
    (lambda t: pa.types.is_binary(t) or pa.types.is_large_binary(t), "BLOB"),
]


def _sql_type(t: pa.DataType) -> str | None:
    """The column affinity storing ``t`` exactly, or None if unsupported."""
    return next((affinity for check, affinity in _AFFINITY if check(t)), None)


def _storage_type(t: pa.DataType) -> pa.DataType:
    """The Arrow type of the values SQLite hands back for a column of type ``t``."""
    if pa.types.is_timestamp(t) or pa.types.is_boolean(t):
        return pa.int64()
    if pa.types.is_date32(t):
        return pa.int32()
    if pa.types.is_float32(t):
        return pa.float64()
    return t


def _to_storage(column: pa.Array | pa.ChunkedArray) -> list[Any]:
    """Python values sqlite3 can bind, converted column-wise by Arrow."""
    t = column.type
    if pa.types.is_timestamp(t) or pa.types.is_date32(t):
        column = column.cast(_storage_type(t))
    values: list[Any] = column.to_pylist()
    return values


def _from_storage(values: Sequence[Any], field: pa.Field) -> pa.Array:
    array = pa.array(values, type=_storage_type(field.type))
    return array if array.type == field.type else array.cast(field.type)


def _micros(moment: datetime) -> int:
    return (utc(moment) - _EPOCH) // timedelta(microseconds=1)


def _schema_json(schema: pa.Schema) -> str:
    # Readable column list for humans poking at the file; the IPC bytes are exact.
    return json.dumps(
        {
            "columns": [{"name": f.name, "type": str(f.type)} for f in schema],
            "arrow_ipc": schema_to_ipc(schema),
        }
    )


class SqliteConnector(Connector):
    """Arrow tables in and out of one SQLite database file."""

    kind: ClassVar[str] = "sqlite"
    config_model: ClassVar[type[BaseModel]] = SqliteConfig
    config: SqliteConfig

    def __init__(self, source: str, config: SqliteConfig) -> None:
        super().__init__(source, config)

    # -- errors and connections ------------------------------------------------

    @contextmanager
    def _connect(self, *, readonly: bool) -> Iterator[sqlite3.Connection]:
        """A connection whose driver errors leave as SourceError."""
        path = self.config.path
        try:
            if readonly:
                conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(path, isolation_level=None)
            with closing(conn):
                yield conn
        except PotluckError:
            raise
        except (sqlite3.Error, OSError, OverflowError, pa.ArrowException) as exc:
            raise self._error(f"{path}: {type(exc).__name__}: {exc}") from exc

    def _check_name(self, table: str) -> None:
        if "\x00" in table or not table:
            raise self._error(f"invalid table name {table!r}")
        if table.lower() == _META:
            raise self._error(f"table name '{table}' is reserved for potluck's schema metadata")

    def _missing(self, table: str) -> SourceError:
        return self._error(f"table '{table}' is missing from {self.config.path}")

    def _stored_schema(self, conn: sqlite3.Connection, table: str) -> pa.Schema | None:
        """The Arrow schema written with ``table``; None if the table does not exist."""
        exists = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ? COLLATE NOCASE", (table,)
        ).fetchone()
        if exists is None:
            return None
        row = None
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (_META,)).fetchone():
            row = conn.execute(
                f"SELECT arrow_schema_json FROM {_META} WHERE table_name = ?", (table,)
            ).fetchone()
        if row is None:
            raise self._error(
                f"table '{table}' was not written by potluck (no Arrow schema in {_META}): "
                "it can be read but not appended to; write it with mode replace, or export it "
                "and bring it in with `potluck load SOURCE FILE`",
                True,
            )
        try:
            schema = schema_from_ipc(json.loads(row[0])["arrow_ipc"])
        except (ValueError, KeyError, TypeError, pa.ArrowException) as exc:
            raise self._error(f"corrupt schema metadata for table '{table}': {exc}", True) from exc
        return schema

    # -- the contract --------------------------------------------------------------

    def _write(self, table: str, data: pa.Table, mode: WriteMode) -> int:
        """Write in one transaction; replace drops and recreates inside it, so a failure keeps the old table."""
        with self._connect(readonly=False) as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {_META} ("
                    "table_name TEXT PRIMARY KEY COLLATE NOCASE, arrow_schema_json TEXT NOT NULL)"
                )
                existing = self._stored_schema(conn, table) if mode == "append" else None
                if existing is None:
                    self._create(conn, table, data.schema)
                else:
                    data = conform(data, existing, self._error)
                insert = "INSERT INTO {} ({}) VALUES ({})".format(
                    _quote(table),
                    ", ".join(_quote(n) for n in data.column_names),
                    ", ".join("?" for _ in data.column_names),
                )
                for batch in data.to_batches(max_chunksize=_BATCH_ROWS):
                    conn.executemany(
                        insert, zip(*(_to_storage(c) for c in batch.columns), strict=True)
                    )
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # some errors already rolled back
                    conn.execute("ROLLBACK")
                raise
        return int(data.num_rows)

    def _check_writable(self, data: pa.Table) -> None:
        schema = data.schema
        if not schema.names:
            raise self._error("cannot write a table without columns", True)
        lowered = [n.lower() for n in schema.names]  # SQLite names are case-insensitive
        twice = sorted({n for n in schema.names if lowered.count(n.lower()) > 1})
        if twice:
            raise self._error(f"duplicate column name(s) {twice}", True)
        bad = [f"{f.name} ({f.type})" for f in schema if _sql_type(f.type) is None]
        if bad or any("\x00" in n for n in schema.names):
            raise self._error(f"column type(s) SQLite cannot store: {', '.join(bad)}", True)

    def _create(self, conn: sqlite3.Connection, table: str, schema: pa.Schema) -> None:
        columns = ", ".join(f"{_quote(f.name)} {_sql_type(f.type)}".rstrip() for f in schema)
        conn.execute(f"DROP TABLE IF EXISTS {_quote(table)}")
        conn.execute(f"CREATE TABLE {_quote(table)} ({columns})")
        conn.execute(
            f"INSERT OR REPLACE INTO {_META} (table_name, arrow_schema_json) VALUES (?, ?)",
            (table, _schema_json(schema)),
        )

    def schema(self, table: str) -> pa.Schema:
        if not self.config.path.exists():
            raise self._missing(table)
        with self._connect(readonly=True) as conn:
            found = self._read_schema(conn, table)
        if found is None:
            raise self._missing(table)
        return found[0]

    def _read_schema(self, conn: sqlite3.Connection, table: str) -> tuple[pa.Schema, bool] | None:
        """(schema, written by another tool) of ``table``; None if it does not exist.

        A table potluck did not write is read by its column declarations (see ``_foreign``).
        """
        try:
            schema = self._stored_schema(conn, table)
        except SourceError as exc:
            if "not written by potluck" not in exc.detail:
                raise
            try:
                return declared_schema(conn, table, _FIX), True
            except ValueError as bad:
                raise self._error(str(bad), True) from None
        return None if schema is None else (schema, False)

    def read(self, request: ReadRequest) -> pa.Table:
        """One SELECT with projection, key filter and time window pushed down, rows in write order."""
        if not self.config.path.exists():
            raise self._missing(request.table)
        with self._connect(readonly=True) as conn:
            found = self._read_schema(conn, request.table)
            if found is None:
                raise self._missing(request.table)
            schema, foreign = found
            names = resolve(schema, request, self._error)
            if foreign:
                return self._read_foreign(conn, schema, names, request)
            sql, params = self._select(schema, names, request)
            rows = conn.execute(sql, params).fetchall()
            target = pa.schema([schema.field(n) for n in names])
            if not names:  # a zero-column table still has a row count
                return pa.table({"_": pa.nulls(len(rows))}).select([])
            columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
            arrays = [_from_storage(v, f) for v, f in zip(columns, target, strict=True)]
            return pa.Table.from_arrays(arrays, schema=target)

    def _read_foreign(
        self, conn: sqlite3.Connection, schema: pa.Schema, names: list[str], request: ReadRequest
    ) -> pa.Table:
        """A table another tool wrote: keys pushed into SQL, values converted by the declared
        types, the time window applied after (its times are text in any ISO spelling)."""
        window = request.timestamp_column if (request.start or request.end) else None
        read = list(dict.fromkeys([*names, *([window] if window else [])]))
        sql, params = self._select(schema, read, request, window=False)
        rows = conn.execute(sql, params).fetchall()
        if not read:  # a zero-column read still has a row count
            return pa.table({"_": pa.nulls(len(rows))}).select([])
        target = pa.schema([schema.field(n) for n in read])
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in read]
        try:
            arrays = [
                foreign_array(request.table, f, v, _FIX)
                for v, f in zip(columns, target, strict=True)
            ]
        except ValueError as exc:
            raise self._error(str(exc), True) from None
        table = pa.Table.from_arrays(arrays, schema=target)
        if window:
            predicate = filter_expression(target, replace(request, keys=None))
            table = table.filter(predicate) if predicate is not None else table
        return table.select(names)

    def _select(
        self, schema: pa.Schema, names: list[str], request: ReadRequest, *, window: bool = True
    ) -> tuple[str, list[Any]]:
        where: list[str] = []
        params: list[Any] = []
        if request.keys is not None and request.key_column is not None:
            field = schema.field(request.key_column)
            if pa.types.is_binary(field.type) or pa.types.is_large_binary(field.type):
                raise RequestError(f"cannot filter binary column '{field.name}' by keys")
            keys = request_keys(field, request.keys)  # strings, as the column's type
            where.append(f"{_quote(field.name)} IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(_to_storage(keys)))
        ts = _quote(request.timestamp_column or "")
        if request.start is not None and window:
            where.append(f"{ts} >= ?")
            params.append(_micros(request.start))
        if request.end is not None and window:
            where.append(f"{ts} <= ?")
            params.append(_micros(request.end))
        projection = ", ".join(_quote(n) for n in names) or "1"
        sql = f"SELECT {projection} FROM {_quote(request.table)}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        # Write order, via the first rowid alias that no column of the table shadows.
        taken = {n.lower() for n in schema.names}
        order = next((a for a in ("rowid", "_rowid_", "oid") if a not in taken), None)
        return (sql + f" ORDER BY {order}" if order else sql), params

    def ping(self) -> None:
        """The database opens and is a SQLite file; or it can be created where configured."""
        path = self.config.path
        if path.exists():
            with self._connect(readonly=True) as conn:
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        elif not next(p for p in path.parents if p.exists()).is_dir():
            raise self._error(f"cannot create {path}: a parent is not a directory")
