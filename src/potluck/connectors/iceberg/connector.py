"""Iceberg connector: Arrow in and out of Apache Iceberg tables (pyiceberg, SQL catalog).

A table is ``{namespace}.{table}`` in a SQL catalog (SQLite embedded, PostgreSQL on
services); its data and metadata files live under the warehouse (a local folder or
``s3://``). Reads load the table's metadata once and pin one snapshot: every file
read comes from that snapshot, so a commit landing mid-read is never half seen
(snapshot isolation). The request is pushed into pyiceberg's scan: the projection as
``selected_fields``, the keys as ``In`` and the inclusive window as
``GreaterThanOrEqual``/``LessThanOrEqual``; manifest min/max statistics prune data
files before any is opened, and the Arrow reader filters rows inside the rest.
:meth:`IcebergConnector.planned_files` shows which files a request would read.

Writes are one Iceberg commit each: ``replace`` an overwrite snapshot (with a new
schema when the data's differs), ``append`` an append snapshot; the namespace and
the table are created on the first write, in the same commit as its data. A write
refused or failed leaves the table at its last snapshot, and the files it wrote are
deleted once the catalog shows the commit did not land. Iceberg has no unsigned
64-bit or null type: the exact Arrow schema is kept in the table's properties and
in each snapshot's summary (``potluck.arrow-schema``), so reads -- also of old
snapshots -- return the types written; null columns are stored as strings.

Time travel: :meth:`IcebergConnector.read_at` reads as of a snapshot id or a moment;
the ``snapshot_id`` / ``as_of`` options pin every read of the connector instead (and
refuse writes). :meth:`IcebergConnector.snapshots` lists a table's history.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import quote

import pyarrow as pa
from pydantic import BaseModel

from potluck.connectors._arrow import (
    conform,
    driver_errors,
    request_keys,
    resolve,
    schema_from_ipc,
    schema_to_ipc,
    utc,
)
from potluck.connectors.base import Connector, ReadRequest, WriteMode
from potluck.connectors.iceberg.config import IcebergConfig
from potluck.errors import DriverMissingError

__all__ = ["IcebergConnector", "Plan"]

ARROW_SCHEMA = "potluck.arrow-schema"  # table property and snapshot summary key
_INSTALL = 'pip install "pyiceberg[sql-sqlite,sql-postgres,pyarrow]>=0.12,<0.13"'
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def _glue() -> Any:
    """The private pyiceberg glue module, imported on first use (with an install hint)."""
    try:
        from potluck.connectors.iceberg import _catalog
    except ImportError as exc:
        raise DriverMissingError("pyiceberg", _INSTALL, "the iceberg connector") from exc
    return _catalog


def _driver_errors() -> tuple[type[Exception], ...]:
    """Everything pyiceberg, SQLAlchemy and the FileIO raise for a failing source."""
    import pyiceberg.exceptions as ice
    from sqlalchemy.exc import SQLAlchemyError

    kinds = [getattr(ice, n) for n in dir(ice) if n[0].isupper()]
    driver = tuple(k for k in kinds if isinstance(k, type) and issubclass(k, Exception))
    return (*driver, SQLAlchemyError, OSError, pa.ArrowException, ValueError, TypeError)


@dataclass(frozen=True)
class Plan:
    """One read, decided: the pinned snapshot, the returned schema, the files to open."""

    table: Any  # pyiceberg Table
    snapshot: Any  # pyiceberg Snapshot, or None for a table without any
    target: pa.Schema  # what read returns
    fetch: tuple[str, ...]  # the columns asked of pyiceberg (one, for a zero-column read)
    row_filter: Any  # pyiceberg BooleanExpression
    tasks: tuple[Any, ...]  # FileScanTasks, oldest commit first

    @property
    def files(self) -> list[str]:
        return [task.file.file_path for task in self.tasks]


class IcebergConnector(Connector):
    """Arrow tables in and out of Iceberg tables of one SQL catalog namespace."""

    kind: ClassVar[str] = "iceberg"
    config_model: ClassVar[type[BaseModel]] = IcebergConfig
    config: IcebergConfig

    def __init__(self, source: str, config: IcebergConfig) -> None:
        super().__init__(source, config)
        self._catalog: Any = None
        self._lock = threading.Lock()

    # -- errors, catalog, names ------------------------------------------------------

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Driver errors leave as SourceError naming this source and the catalog."""
        glue = _glue()  # the install hint comes first
        del glue
        with driver_errors(self._where_error, *_driver_errors()):
            yield

    def _where_error(self, detail: str, schema: bool = False) -> Any:
        return self._error(f"{self.config.where}: {' '.join(detail.split())}", schema)

    def _catalog_for(self, create: bool) -> Any:
        """The (lazily built) catalog. Reads never create a missing SQLite catalog file."""
        with self._lock:
            if self._catalog is None:
                path = self.config.sqlite_file
                if not create and path is not None and not path.is_file():
                    return None
                if path is not None:
                    path.parent.mkdir(parents=True, exist_ok=True)
                glue = _glue()
                with self._errors():
                    self._catalog = glue.PotluckCatalog(
                        self.config.catalog, **self.config.catalog_properties()
                    )
            return self._catalog

    def _ident(self, table: str) -> tuple[str, str]:
        self._check_name(table)
        return (self.config.namespace, table)

    def _check_name(self, table: str) -> None:
        bad = not table or table.startswith(".") or "\x00" in table
        if bad or "/" in table or "\\" in table:
            raise self._error(f"invalid table name {table!r}: it must be a plain name")

    def _missing(self, table: str, why: str = "") -> Any:
        where = f"namespace '{self.config.namespace}' of {self.config.where}"
        return self._error(f"table '{table}' is missing from {where}{why}")

    def _load(self, table: str) -> Any:
        """The table's current metadata, or a 'missing' SourceError naming the source."""
        ident = self._ident(table)
        catalog = self._catalog_for(create=False)
        if catalog is None:
            raise self._missing(table, " (no catalog database yet)")
        from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError

        with self._errors():
            try:
                return catalog.load_table(ident)
            except (NoSuchTableError, NoSuchNamespaceError) as exc:
                raise self._missing(table) from exc

    # -- snapshots and schemas ------------------------------------------------------------

    def _snapshot(self, tbl: Any, snapshot_id: int | None, as_of: datetime | None) -> Any:
        snapshot_id = self.config.snapshot_id if snapshot_id is None else snapshot_id
        as_of = self.config.as_of if as_of is None and snapshot_id is None else as_of
        name = tbl.name()[-1]
        if snapshot_id is not None:
            snap = tbl.snapshot_by_id(snapshot_id)
            if snap is None:
                raise self._error(f"table '{name}' has no snapshot {snapshot_id}")
            return snap
        if as_of is not None:
            ms = (utc(as_of) - _EPOCH) // timedelta(milliseconds=1)
            snap = tbl.snapshot_as_of_timestamp(ms)
            if snap is None:
                raise self._error(f"table '{name}' has no snapshot as of {utc(as_of).isoformat()}")
            return snap
        return tbl.current_snapshot()

    def _arrow_schema(self, tbl: Any, snapshot: Any) -> pa.Schema:
        """The Arrow schema written (as of ``snapshot``); the Iceberg schema's for foreign tables."""
        summary = snapshot.summary if snapshot is not None else None
        text = (summary.additional_properties.get(ARROW_SCHEMA) if summary else None) or (
            tbl.properties.get(ARROW_SCHEMA) if snapshot is None else None
        )
        if text:
            try:
                return schema_from_ipc(text)
            except (ValueError, pa.ArrowException) as exc:
                raise self._error(f"corrupt {ARROW_SCHEMA} of '{tbl.name()[-1]}': {exc}", True) from exc
        from pyiceberg.io.pyarrow import schema_to_pyarrow

        schema = tbl.schema() if snapshot is None else tbl.schemas().get(snapshot.schema_id, tbl.schema())
        raw = schema_to_pyarrow(schema, include_field_ids=False)
        return pa.schema([_contract_field(f) for f in raw])

    def snapshots(self, table: str) -> list[tuple[int, datetime]]:
        """The table's snapshots, oldest first: (snapshot id, commit time, UTC)."""
        tbl = self._load(table)
        history = sorted(tbl.snapshots(), key=lambda s: (s.timestamp_ms, s.sequence_number or 0))
        return [(s.snapshot_id, _EPOCH + timedelta(milliseconds=s.timestamp_ms)) for s in history]

    def schema(self, table: str) -> pa.Schema:
        tbl = self._load(table)
        with self._errors():
            return self._arrow_schema(tbl, self._snapshot(tbl, None, None))

    # -- reads ----------------------------------------------------------------------

    def plan(
        self, request: ReadRequest, *, snapshot_id: int | None = None, as_of: datetime | None = None
    ) -> Plan:
        """Decide a read: pin the snapshot, check the request, prune files by statistics."""
        tbl = self._load(request.table)
        with self._errors():
            snapshot = self._snapshot(tbl, snapshot_id, as_of)
            arrow = self._arrow_schema(tbl, snapshot)
            names = resolve(arrow, request, self._error)
            target = pa.schema([arrow.field(n) for n in names])
            row_filter = _row_filter(arrow, request)
            fetch = tuple(names) if names else tuple(arrow.names[:1])
            tasks: tuple[Any, ...] = ()
            if snapshot is not None and fetch:
                glue = _glue()
                metadata = tbl.metadata
                tasks = tuple(glue.plan_in_order(metadata, tbl.io, snapshot, row_filter))
            return Plan(tbl, snapshot, target, fetch, row_filter, tasks)

    def planned_files(self, request: ReadRequest) -> list[str]:
        """The data files a read of ``request`` opens, after statistics pruned the rest."""
        return self.plan(request).files

    def read(self, request: ReadRequest) -> pa.Table:
        """The current snapshot's rows for ``request`` (or the pinned one's), pushed down."""
        return self._fetch(self.plan(request))

    def read_at(
        self, request: ReadRequest, *, snapshot_id: int | None = None, as_of: datetime | None = None
    ) -> pa.Table:
        """Time travel: ``request`` as of snapshot ``snapshot_id``, or as of moment ``as_of``."""
        if (snapshot_id is None) == (as_of is None):
            from potluck.errors import RequestError

            raise RequestError("read_at needs exactly one of snapshot_id and as_of")
        return self._fetch(self.plan(request, snapshot_id=snapshot_id, as_of=as_of))

    def _fetch(self, plan: Plan) -> pa.Table:
        batches = list(self._batches(plan))
        if not plan.target.names:
            rows = sum(b.num_rows for b in batches)
            return pa.table({"_": pa.nulls(rows)}).select([])
        return pa.Table.from_batches(batches, plan.target)

    def scan(self, request: ReadRequest) -> Iterator[pa.RecordBatch] | None:
        """The pinned snapshot's files one at a time, filtered as they come."""
        plan = self.plan(request)
        return self._batches(plan) if plan.target.names else None

    def _batches(self, plan: Plan) -> Iterator[pa.RecordBatch]:
        """Batches in the contract's types, file by file in commit order."""
        if not plan.tasks:
            return
        from pyiceberg.io.pyarrow import ArrowScan

        with self._errors():
            tbl = plan.table
            projected = tbl.scan(
                selected_fields=plan.fetch,
                snapshot_id=plan.snapshot.snapshot_id,
            ).projection()
            reader = ArrowScan(tbl.metadata, tbl.io, projected, plan.row_filter, True, None)
            for task in plan.tasks:  # one file in memory at a time, in commit order
                for batch in reader.to_record_batches([task]):
                    if batch.num_rows:  # zero-column reads count the fetched column's rows
                        yield _restore(batch, plan.target) if plan.target.names else batch

    # -- writes -----------------------------------------------------------------------

    def _check_writable(self, data: pa.Table) -> None:
        super()._check_writable(data)
        glue = _glue()
        del glue
        from pyiceberg.catalog import Catalog

        try:
            Catalog._convert_schema_if_needed(_storage(data).schema)
        except (ValueError, TypeError, pa.ArrowException) as exc:
            raise self._error(f"Iceberg cannot store this data: {exc}", True) from exc

    def _write(self, table: str, data: pa.Table, mode: WriteMode) -> int:
        """One commit; created on first write; on failure the files written are removed."""
        if self.config.snapshot_id is not None or self.config.as_of is not None:
            raise self._error("this connector is pinned to a snapshot (time travel): read-only")
        ident = self._ident(table)
        catalog = self._catalog_for(create=True)
        glue = _glue()
        with self._errors(), glue.recording() as recorder:
            try:
                self._commit(catalog, ident, data, mode)
            except BaseException:
                self._undo(catalog, ident, recorder.paths)
                raise
        return int(data.num_rows)

    def _commit(self, catalog: Any, ident: tuple[str, str], data: pa.Table, mode: WriteMode) -> None:
        from pyiceberg.exceptions import NoSuchTableError, TableAlreadyExistsError

        catalog.create_namespace_if_not_exists(ident[0])
        for attempt in range(3):  # another writer may create the table between load and create
            try:
                tbl = catalog.load_table(ident)
            except NoSuchTableError:
                try:
                    self._create(catalog, ident, data)
                    return
                except TableAlreadyExistsError:
                    if attempt == 2:
                        raise
                    continue
            if mode == "append":
                existing = self._arrow_schema(tbl, tbl.current_snapshot())
                data = conform(data, existing, self._error)
                tx = tbl.transaction()
            else:
                tx = tbl.transaction()
                _set_schema(tx, _storage(data).schema)
                tx.set_properties({ARROW_SCHEMA: schema_to_ipc(data.schema)})
            summary = {ARROW_SCHEMA: schema_to_ipc(data.schema)}
            if mode == "append":
                tx.append(_storage(data), snapshot_properties=summary)
            else:
                tx.overwrite(_storage(data), snapshot_properties=summary)
            tx.commit_transaction()
            return

    def _create(self, catalog: Any, ident: tuple[str, str], data: pa.Table) -> None:
        """The table, its schema and its first snapshot in one catalog commit."""
        ipc = schema_to_ipc(data.schema)
        location = f"{self.config.warehouse_url}/{quote(ident[0], safe='')}.db/{quote(ident[1], safe='')}"
        tx = catalog.create_table_transaction(
            ident, schema=_storage(data).schema, location=location, properties={ARROW_SCHEMA: ipc}
        )
        tx.append(_storage(data), snapshot_properties={ARROW_SCHEMA: ipc})
        tx.commit_transaction()

    def _undo(self, catalog: Any, ident: tuple[str, str], written: list[str]) -> None:
        """Delete a failed write's files, unless the catalog shows its commit landed after all."""
        if not written:
            return
        from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError

        try:
            try:
                current = catalog.load_table(ident).metadata_location
            except (NoSuchTableError, NoSuchNamespaceError):
                current = None
            if current in written:
                return  # it landed: those files are the table now
            io = _glue().PotluckCatalog._load_file_io(catalog)
            for path in written:
                with suppress(Exception):  # already gone (pyiceberg cleans some itself)
                    io.delete(path)
        except Exception:  # the catalog is unreachable: orphan files are harmless, lost ones not
            return

    def ping(self) -> None:
        """The catalog database answers (it is created, with its tables, if absent)."""
        catalog = self._catalog_for(create=True)
        with self._errors():
            catalog.list_namespaces()

    def close(self) -> None:
        with self._lock:
            catalog, self._catalog = self._catalog, None
        if catalog is not None:
            with suppress(Exception):
                catalog.engine.dispose()


def _contract_field(field: pa.Field) -> pa.Field:
    """Iceberg's Arrow types as the contract has them (strings, µs UTC timestamps)."""
    kind = field.type
    if pa.types.is_large_string(kind):
        kind = pa.string()
    elif pa.types.is_large_binary(kind):
        kind = pa.binary()
    elif pa.types.is_timestamp(kind):
        kind = pa.timestamp("us", "UTC")
    return pa.field(field.name, kind, field.nullable)


def _storage(data: pa.Table) -> pa.Table:
    """What Iceberg stores: null-typed columns as (all-null) strings."""
    if not any(pa.types.is_null(f.type) for f in data.schema):
        return data
    columns = [c.cast(pa.string()) if pa.types.is_null(c.type) else c for c in data.columns]
    return pa.Table.from_arrays(columns, names=data.column_names)


def _restore(batch: pa.RecordBatch, target: pa.Schema) -> pa.RecordBatch:
    """pyiceberg's batch cast to the exact Arrow types written."""
    arrays = []
    for field in target:
        column = batch.column(field.name)
        if pa.types.is_null(field.type):
            arrays.append(pa.nulls(batch.num_rows))
        elif column.type != field.type:
            arrays.append(column.cast(field.type))
        else:
            arrays.append(column)
    return pa.RecordBatch.from_arrays(arrays, schema=target)


def _row_filter(schema: pa.Schema, request: ReadRequest) -> Any:
    """The request's keys and inclusive window as a pyiceberg expression (pushed down)."""
    from pyiceberg.expressions import (
        AlwaysTrue,
        And,
        GreaterThanOrEqual,
        In,
        LessThanOrEqual,
    )

    parts: list[Any] = []
    if request.keys is not None and request.key_column is not None:
        field = schema.field(request.key_column)
        values = request_keys(field, request.keys).to_pylist()
        parts.append(In(field.name, set(values)))
    if request.timestamp_column is not None:
        if request.start is not None:
            parts.append(GreaterThanOrEqual(request.timestamp_column, _micros(request.start)))
        if request.end is not None:
            parts.append(LessThanOrEqual(request.timestamp_column, _micros(request.end)))
    if not parts:
        return AlwaysTrue()
    return parts[0] if len(parts) == 1 else And(*parts)


def _micros(moment: datetime) -> int:
    return (utc(moment) - _EPOCH) // _US


def _set_schema(tx: Any, schema: pa.Schema) -> None:
    """Make ``schema`` the table's current one in ``tx`` (fresh field ids), unless it already is."""
    from pyiceberg.catalog import Catalog
    from pyiceberg.io.pyarrow import schema_to_pyarrow
    from pyiceberg.schema import Schema, assign_fresh_schema_ids
    from pyiceberg.table.update import AddSchemaUpdate, AssertCurrentSchemaId, SetCurrentSchemaUpdate

    metadata = tx.table_metadata
    current = schema_to_pyarrow(metadata.schema(), include_field_ids=False)
    wanted = schema_to_pyarrow(Catalog._convert_schema_if_needed(schema), include_field_ids=False)
    if current.equals(wanted):
        return
    counter = iter(range(metadata.last_column_id + 1, 1 << 31))
    fresh = assign_fresh_schema_ids(Catalog._convert_schema_if_needed(schema), lambda: next(counter))
    schema_id = 1 + max(s.schema_id for s in metadata.schemas)
    new = Schema(*fresh.fields, schema_id=schema_id)
    tx._apply(
        (AddSchemaUpdate(schema=new), SetCurrentSchemaUpdate(schema_id=-1)),
        (AssertCurrentSchemaId(current_schema_id=metadata.current_schema_id),),
    )
