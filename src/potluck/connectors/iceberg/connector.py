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

Writes are one catalog commit each: ``replace`` an overwrite (pyiceberg records it
as a delete and an append snapshot, committed together; a new schema when the data's
differs), ``append`` an append snapshot; the namespace and
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
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import quote

import pyarrow as pa
import pyarrow.compute as pc
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
# More keys than this are pushed into the scan as their range (file pruning) and kept
# exactly in Arrow: a large ``In`` costs pyiceberg seconds per read.
IN_LIMIT = 512


def _glue() -> Any:
    """The private pyiceberg glue module, imported on first use (with an install hint)."""
    try:
        from potluck.connectors.iceberg import _catalog
    except ImportError as exc:
        raise DriverMissingError("pyiceberg", _INSTALL, "the iceberg connector") from exc
    return _catalog


@dataclass(frozen=True)
class Plan:
    """One read, decided: the pinned snapshot, the returned schema, the files to open."""

    table: Any  # pyiceberg Table
    metadata: Any  # its TableMetadata, with the snapshot's schema as the current one
    snapshot: Any  # pyiceberg Snapshot, or None for a table without any
    target: pa.Schema  # what read returns
    fetch: tuple[str, ...]  # the columns asked of pyiceberg (one, for a zero-column read)
    row_filter: Any  # pyiceberg BooleanExpression
    tasks: tuple[Any, ...]  # FileScanTasks, oldest commit first
    keep_keys: tuple[str, pa.Array] | None = None  # (column, keys) filtered in Arrow

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
        with driver_errors(self._where_error, *_glue().DRIVER_ERRORS):
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
                raise self._error(
                    f"corrupt {ARROW_SCHEMA} of '{tbl.name()[-1]}': {exc}", True
                ) from exc
        schema = (
            tbl.schema()
            if snapshot is None
            else tbl.schemas().get(snapshot.schema_id, tbl.schema())
        )
        raw = _glue().schema_to_pyarrow(schema, include_field_ids=False)
        return pa.schema([_glue().contract_field(f) for f in raw])

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
            glue = _glue()
            row_filter = glue.row_filter(arrow, request, _micros, IN_LIMIT)
            fetch = tuple(names) if names else tuple(arrow.names[:1])
            keep_keys = None
            if request.keys is not None and request.key_column is not None:
                field = arrow.field(request.key_column)
                keys = request_keys(field, request.keys)
                if len(keys) > IN_LIMIT:
                    keep_keys = (field.name, keys)
                    if field.name not in fetch:
                        fetch = (*fetch, field.name)
            # pyiceberg binds filters to the current schema; an older snapshot may have
            # another (a replace gives columns fresh ids): plan and read with its own.
            metadata = tbl.metadata
            if snapshot is not None and snapshot.schema_id not in (
                None,
                metadata.current_schema_id,
            ):
                metadata = metadata.model_copy(update={"current_schema_id": snapshot.schema_id})
            tasks: tuple[Any, ...] = ()
            if snapshot is not None and fetch:
                tasks = tuple(glue.plan_in_order(metadata, tbl.io, snapshot, row_filter))
            return Plan(tbl, metadata, snapshot, target, fetch, row_filter, tasks, keep_keys)

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
        glue = _glue()
        with self._errors():
            tbl = plan.table
            projected = tbl.scan(
                selected_fields=plan.fetch,
                snapshot_id=plan.snapshot.snapshot_id,
            ).projection()
            reader = glue.ArrowScan(plan.metadata, tbl.io, projected, plan.row_filter, True, None)
            for task in plan.tasks:  # one file in memory at a time, in commit order
                for batch in reader.to_record_batches([task]):
                    if plan.keep_keys is not None and batch.num_rows:
                        column, keys = plan.keep_keys
                        batch = batch.filter(pc.is_in(batch.column(column), value_set=keys))
                    if batch.num_rows:  # zero-column reads count the fetched column's rows
                        yield glue.restore(batch, plan.target) if plan.target.names else batch

    # -- writes -----------------------------------------------------------------------

    def _check_writable(self, data: pa.Table) -> None:
        super()._check_writable(data)
        glue = _glue()
        unsigned = [f.name for f in data.schema if glue.has_uint64(f.type)]
        if unsigned:  # pyiceberg would take them as long and fail on values >= 2**63
            raise self._error(f"Iceberg has no unsigned 64-bit type: columns {unsigned}", True)
        try:
            glue.Catalog._convert_schema_if_needed(glue.storage(data).schema)
        except (ValueError, TypeError, pa.ArrowException) as exc:
            raise self._error(f"Iceberg cannot store this data: {exc}", True) from exc

    def _write(self, table: str, data: pa.Table, mode: WriteMode) -> int:
        """One commit; created on first write; on failure the files written are removed."""
        if self.config.snapshot_id is not None or self.config.as_of is not None:
            raise self._error("this connector is pinned to a snapshot (time travel): read-only")
        ident = self._ident(table)
        catalog = self._catalog_for(create=True)
        glue = _glue()
        if self.config.on_s3:
            with self._errors():
                glue.ensure_bucket(self.config.catalog_properties(), self.config.warehouse_url)
        with self._errors(), glue.recording() as recorder:
            try:
                self._commit(catalog, ident, data, mode)
            except BaseException:
                self._undo(catalog, ident, recorder.paths)
                raise
        return int(data.num_rows)

    def _commit(
        self, catalog: Any, ident: tuple[str, str], data: pa.Table, mode: WriteMode
    ) -> None:
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
                _glue().set_schema(tx, _glue().storage(data).schema)
                tx.set_properties({ARROW_SCHEMA: schema_to_ipc(data.schema)})
            summary = {ARROW_SCHEMA: schema_to_ipc(data.schema)}
            if mode == "append":
                tx.append(_glue().storage(data), snapshot_properties=summary)
            else:  # replacing an empty table deletes nothing: pyiceberg warns, needlessly
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", "Delete operation did not match")
                    tx.overwrite(_glue().storage(data), snapshot_properties=summary)
            tx.commit_transaction()
            return

    def _create(self, catalog: Any, ident: tuple[str, str], data: pa.Table) -> None:
        """The table, its schema and its first snapshot in one catalog commit."""
        ipc = schema_to_ipc(data.schema)
        location = (
            f"{self.config.warehouse_url}/{quote(ident[0], safe='')}.db/{quote(ident[1], safe='')}"
        )
        tx = catalog.create_table_transaction(
            ident,
            schema=_glue().storage(data).schema,
            location=location,
            properties={ARROW_SCHEMA: ipc},
        )
        tx.append(_glue().storage(data), snapshot_properties={ARROW_SCHEMA: ipc})
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


def _micros(moment: datetime) -> int:
    return (utc(moment) - _EPOCH) // _US
