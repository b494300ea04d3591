"""pyiceberg glue for the iceberg connector (private; imports pyiceberg, so loaded lazily).

Two jobs the connector cannot do through pyiceberg's public surface alone:

* **Leave no orphan files behind a failed write.** pyiceberg deletes the manifests
  of a commit that was *refused* (a conflict), but not the data files, nor anything
  when the failure is of another kind (the catalog database fails mid-commit, the
  disk fills). Every FileIO this catalog hands out records the paths it creates while
  a :func:`recording` block is active in the writing thread (data files are written
  from pyiceberg's worker threads, so the recorder travels with the FileIO, not the
  thread). The connector deletes them once it knows the commit did not land.
* **Plan files in commit order.** pyiceberg lists a snapshot's newest manifest first;
  the connector contract returns rows in write order, so :func:`plan_in_order` sorts
  the planned files by the sequence number of the commit that added them.

Also here, next to the pyiceberg types they touch: the request as a pyiceberg
row filter, a replace's new schema, and the Arrow conversions at the boundary
(null columns stored as strings; pyiceberg's large strings and timestamps back to
the exact types written).
"""

from __future__ import annotations

import importlib
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.catalog import Catalog
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.expressions import BooleanExpression
from pyiceberg.io import FileIO
from pyiceberg.io.pyarrow import ArrowScan, PyArrowFile, PyArrowFileIO, schema_to_pyarrow
from pyiceberg.manifest import ManifestEntry
from pyiceberg.schema import Schema, assign_fresh_schema_ids
from pyiceberg.table import FileScanTask, ManifestGroupPlanner
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.table.snapshots import Snapshot
from sqlalchemy.exc import SQLAlchemyError

from potluck.connectors._arrow import request_keys
from potluck.connectors.base import ReadRequest

__all__ = [
    "DRIVER_ERRORS",
    "ArrowScan",
    "Catalog",
    "PotluckCatalog",
    "Recorder",
    "contract_field",
    "ensure_bucket",
    "has_uint64",
    "plan_in_order",
    "recording",
    "restore",
    "row_filter",
    "schema_to_pyarrow",
    "set_schema",
    "storage",
]

# pyiceberg's expressions and table updates are pydantic models whose generated
# signatures (aliases, literal tags) mypy cannot follow: used through Any.
_expr: Any = importlib.import_module("pyiceberg.expressions")
_update: Any = importlib.import_module("pyiceberg.table.update")
_ice: Any = importlib.import_module("pyiceberg.exceptions")

# Everything pyiceberg, SQLAlchemy and the FileIO raise for a failing source (pyiceberg's
# exceptions share no base class; its conversions raise ValueError/TypeError).
DRIVER_ERRORS: tuple[type[Exception], ...] = (
    *(k for n in dir(_ice) if isinstance(k := getattr(_ice, n), type) and issubclass(k, Exception)),
    SQLAlchemyError,
    OSError,
    pa.ArrowException,
    ValueError,
    TypeError,
    struct.error,
)


class Recorder:
    """The paths written during one connector write (from any thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.paths: list[str] = []

    def add(self, path: str) -> None:
        with self._lock:
            self.paths.append(path)


_active: ContextVar[Recorder | None] = ContextVar("potluck_iceberg_recorder", default=None)


@contextmanager
def recording() -> Iterator[Recorder]:
    """FileIOs the catalog builds inside this block record every file they create."""
    recorder = Recorder()
    token = _active.set(recorder)
    try:
        yield recorder
    finally:
        _active.reset(token)


class _RecordingFileIO(PyArrowFileIO):
    """pyarrow's FileIO (which pyiceberg's Arrow reader and writer require) plus a recorder."""

    def __init__(self, properties: dict[str, Any], recorder: Recorder | None) -> None:
        super().__init__(properties)
        self._recorder = recorder

    def new_output(self, location: str) -> PyArrowFile:
        if self._recorder is not None:
            self._recorder.add(location)
        return super().new_output(location)


class PotluckCatalog(SqlCatalog):
    """pyiceberg's SQL catalog whose FileIOs record what they write (see the module doc)."""

    def _load_file_io(self, properties: Any = None, location: str | None = None) -> FileIO:
        merged = {**self.properties, **dict(properties or {})}
        return _RecordingFileIO(merged, _active.get())


def plan_in_order(
    metadata: TableMetadata, io: FileIO, snapshot: Snapshot, row_filter: BooleanExpression
) -> list[FileScanTask]:
    """The snapshot's files that may hold rows matching ``row_filter``, oldest commit first.

    Manifest statistics (min/max per column) and partition summaries prune files here:
    this is where the key and time-window pushdown pays off."""
    sequence: dict[str, int] = {}

    def note(entry: ManifestEntry) -> bool:
        sequence[entry.data_file.file_path] = entry.sequence_number or 0
        return True

    planner = ManifestGroupPlanner(metadata, io, row_filter)
    tasks = list(planner.plan_files(snapshot.manifests(io), manifest_entry_filter=note))
    tasks.sort(key=lambda task: sequence.get(task.file.file_path, 0))  # stable: keeps file order
    return tasks


def row_filter(
    schema: pa.Schema,
    request: ReadRequest,
    micros: Callable[[datetime], int],
    in_limit: int | None = None,
) -> BooleanExpression:
    """The request's keys (``In``) and inclusive window (``>=``/``<=``, in µs) as one expression.

    More than ``in_limit`` keys become their range (``>= min`` and ``<= max``): pyiceberg
    binds and evaluates an ``In`` literal by literal (14,000 keys: seconds), while the
    range prunes files by the same statistics; the caller then keeps the exact keys."""
    parts: list[Any] = []
    if request.keys is not None and request.key_column is not None:
        field = schema.field(request.key_column)
        keys = request_keys(field, request.keys)
        if in_limit is not None and len(keys) > in_limit:
            low, high = pc.min_max(keys).values()
            parts.append(_expr.GreaterThanOrEqual(field.name, low.as_py()))
            parts.append(_expr.LessThanOrEqual(field.name, high.as_py()))
        else:
            parts.append(_expr.In(field.name, set(keys.to_pylist())))
    if request.timestamp_column is not None:
        if request.start is not None:
            parts.append(_expr.GreaterThanOrEqual(request.timestamp_column, micros(request.start)))
        if request.end is not None:
            parts.append(_expr.LessThanOrEqual(request.timestamp_column, micros(request.end)))
    if not parts:
        return _expr.AlwaysTrue()  # type: ignore[no-any-return]
    return parts[0] if len(parts) == 1 else _expr.And(*parts)  # type: ignore[no-any-return]


def set_schema(tx: Any, schema: pa.Schema) -> None:
    """Make ``schema`` the table's current one within ``tx``, unless it already is.

    A replace may change the columns and their types, which Iceberg's schema
    evolution only allows as promotions: the new schema gets fresh field ids (after
    the table's last), so old snapshots keep theirs and stay readable."""
    metadata = tx.table_metadata
    converted = Catalog._convert_schema_if_needed(schema)
    current = schema_to_pyarrow(metadata.schema(), include_field_ids=False)
    if current.equals(schema_to_pyarrow(converted, include_field_ids=False)):
        return
    counter = iter(range(metadata.last_column_id + 1, 1 << 31))
    fresh = assign_fresh_schema_ids(converted, lambda: next(counter))
    new = Schema(*fresh.fields, schema_id=1 + max(s.schema_id for s in metadata.schemas))
    tx._apply(
        (_update.AddSchemaUpdate(schema=new), _update.SetCurrentSchemaUpdate(schema_id=-1)),
        (_update.AssertCurrentSchemaId(current_schema_id=metadata.current_schema_id),),
    )


def contract_field(field: pa.Field) -> pa.Field:
    """Iceberg's Arrow types as the contract has them (strings, µs UTC timestamps)."""
    kind = field.type
    if pa.types.is_large_string(kind):
        kind = pa.string()
    elif pa.types.is_large_binary(kind):
        kind = pa.binary()
    elif pa.types.is_timestamp(kind):
        kind = pa.timestamp("us", "UTC")
    return pa.field(field.name, kind, field.nullable)


def storage(data: pa.Table) -> pa.Table:
    """What Iceberg stores: null-typed columns as (all-null) strings."""
    if not any(pa.types.is_null(f.type) for f in data.schema):
        return data
    columns = [c.cast(pa.string()) if pa.types.is_null(c.type) else c for c in data.columns]
    return pa.Table.from_arrays(columns, names=data.column_names)


def restore(batch: pa.RecordBatch, target: pa.Schema) -> pa.RecordBatch:
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


def ensure_bucket(properties: dict[str, Any], warehouse: str) -> None:
    """Create an ``s3://`` warehouse's bucket if absent (as the s3 connector does on first write).

    pyiceberg's FileIO never creates buckets; without this the first write to a fresh
    MinIO/moto endpoint fails on its first data file."""
    from urllib.parse import urlsplit

    from pyarrow import fs

    io = PyArrowFileIO(properties)
    s3 = io.fs_by_scheme("s3", urlsplit(warehouse).netloc)
    bucket = urlsplit(warehouse).netloc
    if s3.get_file_info(bucket).type == fs.FileType.NotFound:
        fs.S3FileSystem(**_s3_args(properties)).create_dir(bucket)


def _s3_args(properties: dict[str, Any]) -> dict[str, Any]:
    args: dict[str, Any] = {"region": properties.get("s3.region"), "allow_bucket_creation": True}
    if "s3.access-key-id" in properties:
        args["access_key"] = properties["s3.access-key-id"]
        args["secret_key"] = properties.get("s3.secret-access-key")
    if "s3.endpoint" in properties:
        scheme, _, netloc = str(properties["s3.endpoint"]).partition("://")
        args["endpoint_override"] = netloc
        args["scheme"] = scheme
    return args


def has_uint64(kind: pa.DataType) -> bool:
    """``kind`` is, or nests, an unsigned 64-bit integer (Iceberg's long is signed)."""
    if pa.types.is_uint64(kind):
        return True
    return any(has_uint64(kind.field(i).type) for i in range(kind.num_fields))
