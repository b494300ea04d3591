"""PostgreSQL connector: Arrow in and out through the ADBC PostgreSQL driver.

Reads are one SELECT with everything a :class:`ReadRequest` asks for pushed
down: the projection, the entity keys as ONE array parameter (``"key" = ANY($1)``,
or ``"key" IN (SELECT unnest($1))`` beyond 1,000 keys -- never a literal IN list,
so the text does not grow with the keys) and the time window as timestamptz
parameters. The driver hands back Arrow directly. The
statement sent is kept in :attr:`PostgresConnector.last_statement` and logged
on the ``potluck.connectors.postgres`` logger (DEBUG), so pushdown can be seen.

Writes go through ``adbc_ingest`` (binary COPY) inside one transaction. Replace
creates a new table under a temporary name, copies into it, then drops the old
table and renames the new one in the same transaction: a failed write leaves
the old table as it was. Each table's exact Arrow schema is kept in
``_potluck_schema`` (PostgreSQL has no unsigned or null types), and a hidden
identity column ``_potluck_row`` records write order so reads return rows in it.
Tables potluck did not write (a hospital's own tables) are read with the
driver's schema. Timestamps are stored as ``timestamptz`` and come back as
``timestamp[us, UTC]``; the session time zone is UTC.

One connection per server, shared by its connectors under a lock (opening one
costs ~70 ms: the driver loads the type catalogue). Each call first checks it still answers
(``SELECT 1``) and reconnects if not, so a restarted server costs nothing but
the calls made while it was down; it is also dropped after any driver error.
"""

from __future__ import annotations

import atexit
import logging
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel

from potluck.connectors._arrow import (
    TS,
    conform,
    request_keys,
    resolve,
    schema_from_ipc,
    schema_to_ipc,
    utc,
)
from potluck.connectors.base import Connector, ReadRequest, WriteMode
from potluck.connectors.postgres._sql import META, ROW, Select, pg_type, quote, storage_type
from potluck.connectors.postgres.config import PostgresConfig
from potluck.errors import DriverMissingError, PotluckError

__all__ = ["PostgresConnector", "Statement"]

log = logging.getLogger("potluck.connectors.postgres")

_NEW = "_potluck_new_"  # prefix of a replacement table before it is swapped in
_MAX_NAME = 63  # PostgreSQL silently truncates longer identifiers: refuse them instead
_INSTALL = "pip install adbc-driver-postgresql adbc-driver-manager"
# Up to this many keys: ``= ANY($1)``. Beyond, ``IN (SELECT unnest($1))``: planning
# ``= ANY`` over a 6,000-element array alone took ~40 ms (selectivity per element).
_ANY_KEYS = 1_000


class _Link:
    """One connection to one server (URI), shared by every connector pointing there.

    Opening a connection costs ~70 ms (the driver loads the type catalogue), and a
    retrieval reads several logical sources from the same server."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.conn: Any = None

    def drop(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception as exc:  # already broken; nothing else to release
                log.debug("closing a broken connection: %s", exc)


_links: dict[str, _Link] = {}
_links_lock = threading.Lock()


def _link(uri: str) -> _Link:
    with _links_lock:
        return _links.setdefault(uri, _Link())


@atexit.register
def _close_all() -> None:
    # Left to the garbage collector at interpreter shutdown, the driver's finalizer
    # runs after its module is torn down and complains: close them first.
    for link in list(_links.values()):
        with link.lock:
            link.drop()


@dataclass(frozen=True, slots=True)
class Statement:
    """A statement sent to PostgreSQL: its text and its bound parameters."""

    sql: str
    parameters: dict[str, Any]


def _driver() -> tuple[Any, type[Exception]]:
    """The ADBC DB-API module and the driver's base exception, imported on first use."""
    try:
        import adbc_driver_manager
        import adbc_driver_postgresql.dbapi as dbapi
    except ImportError as exc:
        raise DriverMissingError(
            "adbc-driver-postgresql", _INSTALL, "the postgres connector"
        ) from exc
    return dbapi, adbc_driver_manager.Error


def _one_line(exc: BaseException) -> str:
    return re.sub(r"\s+", " ", str(exc)).strip()


def _in_write_order(raw: pa.Table) -> pa.Table:
    """Rows sorted on the trailing row-number column, which is then dropped."""
    rows = raw.column(raw.num_columns - 1)
    raw = raw.remove_column(raw.num_columns - 1)
    if len(rows) > 1 and not pc.all(pc.less(rows[:-1], rows[1:])).as_py():
        raw = raw.take(pc.sort_indices(rows))
    return raw


class PostgresConnector(Connector):
    """Arrow tables in and out of one PostgreSQL schema."""

    kind: ClassVar[str] = "postgres"
    config_model: ClassVar[type[BaseModel]] = PostgresConfig
    config: PostgresConfig

    def __init__(self, source: str, config: PostgresConfig) -> None:
        super().__init__(source, config)
        self.last_statement: Statement | None = None
        self._link = _link(config.uri)

    # -- errors and the connection ---------------------------------------------------

    def _rel(self, table: str) -> str:
        return f"{quote(self.config.schema_name)}.{quote(table)}"

    @contextmanager
    def _session(self) -> Iterator[Any]:
        """The connection, in a transaction the caller commits; rolled back on error.

        Driver errors leave as SourceError naming the source and the server."""
        dbapi, driver_error = _driver()
        link = self._link
        with link.lock:
            try:
                if link.conn is not None and not self._alive(driver_error):
                    link.drop()  # the server restarted or dropped us: reconnect
                if link.conn is None:
                    link.conn = dbapi.connect(self.config.uri)
                    with link.conn.cursor() as cur:
                        cur.execute("SET TIME ZONE 'UTC'")
                    link.conn.commit()
                yield link.conn
            except PotluckError:
                self._rollback()
                raise
            except (driver_error, pa.ArrowException, OSError) as exc:
                self._drop()
                where = self.config.where
                raise self._error(f"{where}: {type(exc).__name__}: {_one_line(exc)}") from exc
            except BaseException:
                self._drop()
                raise

    def _alive(self, driver_error: type[Exception]) -> bool:
        """The kept connection still answers (one round trip, well under a millisecond)."""
        try:
            with self._link.conn.cursor() as cur:
                cur.execute("SELECT 1")
                cur.fetchone()
            return True
        except driver_error:
            return False

    def _rollback(self) -> None:
        try:
            self._link.conn.rollback()
        except Exception:  # a broken connection: start afresh next time
            self._drop()

    def _drop(self) -> None:
        self._link.drop()

    def _send(self, cur: Any, sql: str, select: Select | None = None) -> None:
        """Execute ``sql``, recording it (and its parameters) as the last statement."""
        shown = select.shown() if select else {}
        self.last_statement = Statement(sql, shown)
        log.debug("%s %s", sql, shown)
        cur.execute(sql, parameters=select.batch() if select else None)

    # -- schema bookkeeping ------------------------------------------------------------

    def _check_name(self, table: str) -> None:
        if not table or "\x00" in table or len(table.encode()) > _MAX_NAME:
            raise self._error(f"invalid table name {table!r}: 1 to {_MAX_NAME} bytes, no NUL")
        if table == META or table.startswith(_NEW):
            raise self._error(f"table name '{table}' is reserved for potluck's bookkeeping")

    def _stored(self, cur: Any, table: str) -> tuple[pa.Schema, bool] | None:
        """(Arrow schema, written by potluck) of ``table``; None if it does not exist."""
        cur.execute(
            "SELECT to_regclass($1) IS NOT NULL, to_regclass($2) IS NOT NULL",
            parameters=(self._rel(table), self._rel(META)),
        )
        exists, has_meta = cur.fetchone()
        if not exists:
            return None
        if has_meta:
            cur.execute(
                f"SELECT arrow_schema FROM {self._rel(META)} WHERE table_name = $1",
                parameters=(table,),
            )
            row = cur.fetchone()
            if row is not None:
                try:
                    return schema_from_ipc(row[0]), True
                except (ValueError, pa.ArrowException) as exc:
                    raise self._error(
                        f"corrupt schema metadata for '{table}': {exc}", True
                    ) from exc
        # Not written by potluck: the server's own column types, timestamps as UTC.
        raw = self._link.conn.adbc_get_table_schema(table, db_schema_filter=self.config.schema_name)
        fields = [
            pa.field(f.name, TS if pa.types.is_timestamp(f.type) else f.type)
            for f in raw
            if f.name != ROW
        ]
        return pa.schema(fields), False

    def _existing(self, cur: Any, table: str) -> tuple[pa.Schema, bool]:
        found = self._stored(cur, table)
        if found is None:
            where = f"{self.config.where} schema {self.config.schema_name}"
            raise self._error(f"table '{table}' is missing from {where}")
        return found

    # -- the contract --------------------------------------------------------------

    def _write(self, table: str, data: pa.Table, mode: WriteMode) -> int:
        """COPY in one transaction; replace swaps a new table in, so a failure keeps the old."""
        with self._session() as conn, conn.cursor() as cur:
            schema = quote(self.config.schema_name)
            cur.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            cur.execute(
                f"CREATE TABLE IF NOT EXISTS {self._rel(META)} "
                "(table_name text PRIMARY KEY, arrow_schema text NOT NULL)"
            )
            existing = self._stored(cur, table) if mode == "append" else None
            if existing is None:
                self._replace(cur, table, data)
            else:
                data = conform(data, existing[0], self._error)
                self._copy(cur, table, data)
            conn.commit()
        return int(data.num_rows)

    def _check_writable(self, data: pa.Table) -> None:
        schema = data.schema
        if not schema.names:
            raise self._error("cannot write a table without columns", True)
        twice = sorted({n for n in schema.names if schema.names.count(n) > 1})
        if twice:
            raise self._error(f"duplicate column name(s) {twice}", True)
        bad_names = [
            n
            for n in schema.names
            if not n or "\x00" in n or len(n.encode()) > _MAX_NAME or n == ROW
        ]
        if bad_names:
            raise self._error(
                f"invalid column name(s) {bad_names}: 1 to {_MAX_NAME} bytes, no NUL, not '{ROW}'",
                True,
            )
        bad = [f"{f.name} ({f.type})" for f in schema if pg_type(f.type) is None]
        if bad:
            raise self._error(f"column type(s) PostgreSQL cannot store: {', '.join(bad)}", True)

    def _replace(self, cur: Any, table: str, data: pa.Table) -> None:
        fresh = f"{_NEW}{uuid.uuid4().hex[:16]}"
        columns = ", ".join(f"{quote(f.name)} {pg_type(f.type)}" for f in data.schema)
        cur.execute(
            f"CREATE TABLE {self._rel(fresh)} "
            f"({columns}, {quote(ROW)} bigint GENERATED ALWAYS AS IDENTITY)"
        )
        self._copy(cur, fresh, data)
        cur.execute(f"DROP TABLE IF EXISTS {self._rel(table)}")
        cur.execute(f"ALTER TABLE {self._rel(fresh)} RENAME TO {quote(table)}")
        cur.execute(
            f"INSERT INTO {self._rel(META)} (table_name, arrow_schema) VALUES ($1, $2) "
            "ON CONFLICT (table_name) DO UPDATE SET arrow_schema = EXCLUDED.arrow_schema",
            parameters=(table, schema_to_ipc(data.schema)),
        )

    def _copy(self, cur: Any, table: str, data: pa.Table) -> None:
        """Binary COPY of ``data`` into an existing table (the identity column fills itself)."""
        if data.num_rows == 0:
            return
        wire = pa.schema([pa.field(f.name, storage_type(f.type)) for f in data.schema])
        cur.adbc_ingest(
            table, data.cast(wire), mode="append", db_schema_name=self.config.schema_name
        )

    def schema(self, table: str) -> pa.Schema:
        with self._session() as conn, conn.cursor() as cur:
            schema, _ = self._existing(cur, table)
            conn.rollback()
        return schema

    def read(self, request: ReadRequest) -> pa.Table:
        """One SELECT with projection, ``= ANY`` keys and time window pushed down, in write order."""
        with self._session() as conn, conn.cursor() as cur:
            schema, ordered = self._existing(cur, request.table)
            names = resolve(schema, request, self._error)
            select = self._select(schema, request)
            if not names:  # a zero-column read still has a row count
                self._send(cur, select.sql("count(*)", None), select)
                count = int(cur.fetchone()[0])
                conn.rollback()
                return pa.table({"_": pa.nulls(count)}).select([])
            # Write order: the hidden row number comes along and Arrow sorts on it, which
            # costs far less than ORDER BY sorting whole rows server-side (and is usually
            # a no-op: a sequential scan returns rows in the order they were written).
            projection = ", ".join(quote(n) for n in [*names, *([ROW] if ordered else [])])
            self._send(cur, select.sql(projection, None), select)
            raw = cur.fetch_arrow_table()
            conn.rollback()  # end the read transaction: no lock is held between calls
        if ordered:
            raw = _in_write_order(raw)
        target = pa.schema([schema.field(n) for n in names])
        return self._restore(raw, target)

    def _select(self, schema: pa.Schema, request: ReadRequest) -> Select:
        select = Select(self._rel(request.table))
        if request.keys is not None and request.key_column is not None:
            field = schema.field(request.key_column)
            keys = request_keys(field, request.keys)
            keys = keys.cast(storage_type(field.type))
            array = pa.ListArray.from_arrays(pa.array([0, len(keys)], pa.int32()), keys)
            column = quote(field.name)
            if len(keys) <= _ANY_KEYS:
                select.bind(lambda p: f"{column} = ANY({p})", array)
            else:  # a hashed semi-join: the planner does not estimate each key in turn
                select.bind(lambda p: f"{column} IN (SELECT unnest({p}))", array)
        ts = quote(request.timestamp_column or "")
        if request.start is not None:
            select.bind(lambda p: f"{ts} >= {p}", pa.array([utc(request.start)], TS))
        if request.end is not None:
            select.bind(lambda p: f"{ts} <= {p}", pa.array([utc(request.end)], TS))
        return select

    def _restore(self, raw: pa.Table, target: pa.Schema) -> pa.Table:
        """The driver's columns cast back to the exact Arrow types written."""
        arrays = []
        for field, column in zip(target, raw.columns, strict=True):
            if pa.types.is_null(field.type):
                arrays.append(pa.nulls(raw.num_rows))
            elif column.type != field.type:
                arrays.append(column.cast(field.type))
            else:
                arrays.append(column)
        return pa.Table.from_arrays(arrays, schema=target)

    def ping(self) -> None:
        """The server answers a query."""
        with self._session() as conn, conn.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()
            conn.rollback()

    def close(self) -> None:
        with self._link.lock:
            self._drop()
