"""Parquet connector: one ``{root}/{table}.parquet`` file per table.

The embedded stand-in for S3/MinIO Parquet. Reads go through
``pyarrow.dataset`` with a filter expression (keys via ``isin``, the inclusive
time window as comparisons) and a column projection, so row groups whose
statistics exclude the request are skipped and unread columns are never
decoded.

Timestamps are written as microseconds, tz-aware UTC (``coerce_timestamps="us"``):
DuckDB cannot read nanosecond tz timestamps. Writes go to a temporary file in
the same directory that is then ``os.replace``-d over the table, so readers see
the old file or the new one, never half of one, and a failed write leaves the
old table intact. Append rewrites the whole file the same way (single writer
assumed: two concurrent appends would lose one).
"""

from __future__ import annotations

import functools
import operator
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Self

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from pydantic import ValidationError

from potluck.connectors.base import Connector, ReadRequest, WriteMode
from potluck.connectors.parquet.config import ParquetConfig
from potluck.errors import (
    ConfigurationError,
    PotluckError,
    RequestError,
    SourceError,
    SourceSchemaError,
)

__all__ = ["ParquetConnector"]

_TS = pa.timestamp("us", "UTC")
ErrorFactory = Callable[[str, bool], SourceError]


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _normalize(data: pa.Table) -> pa.Table:
    """Timestamps to ``timestamp[us, UTC]`` (naive = UTC, ns floored), dictionaries decoded."""
    fields, columns = [], []
    for field, column in zip(data.schema, data.columns, strict=True):
        if pa.types.is_dictionary(field.type):
            column = column.cast(field.type.value_type)
        if pa.types.is_timestamp(column.type) and column.type != _TS:
            column = column.cast(pa.timestamp(column.type.unit, "UTC"))
            if column.type.unit == "ns":
                column = pc.floor_temporal(column, 1, "microsecond")
            column = column.cast(_TS)
        fields.append(pa.field(field.name, column.type, field.nullable, field.metadata))
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def _conform(data: pa.Table, existing: pa.Schema, error: ErrorFactory) -> pa.Table:
    """Appended data must carry the table's columns (any order), castable to its types."""
    extra = sorted(set(data.column_names) - set(existing.names))
    absent = sorted(set(existing.names) - set(data.column_names))
    if extra or absent:
        raise error(
            f"appended data does not match the table: missing {absent}, unexpected {extra}", True
        )
    try:
        return data.select(existing.names).cast(existing)
    except (pa.ArrowException, ValueError) as exc:
        raise error(f"appended data does not fit the table's types: {exc}", True) from exc


def _resolve(schema: pa.Schema, request: ReadRequest, error: ErrorFactory) -> list[str]:
    """The output columns, after checking every name the request mentions exists."""
    if isinstance(request.columns, str) or isinstance(request.keys, str):
        raise RequestError("columns and keys are lists of names, not one string")
    names = list(schema.names if request.columns is None else request.columns)
    if len(set(names)) != len(names):
        raise RequestError(f"columns listed more than once in {names}")
    if request.keys is not None and request.key_column is None:
        raise RequestError("keys given without a key_column")
    windowed = request.start is not None or request.end is not None
    if windowed and request.timestamp_column is None:
        raise RequestError("start/end given without a timestamp_column")
    wanted = [*names, request.key_column, request.timestamp_column]
    missing = list(dict.fromkeys(n for n in wanted if n is not None and n not in schema.names))
    if missing:
        raise error(
            f"table '{request.table}' has no column(s) {', '.join(missing)} "
            f"(it has: {', '.join(schema.names)})",
            True,
        )
    ts = request.timestamp_column
    if windowed and ts is not None and not pa.types.is_timestamp(schema.field(ts).type):
        raise error(f"column '{ts}' is {schema.field(ts).type}, not a timestamp", True)
    return names


def _filter(schema: pa.Schema, request: ReadRequest) -> pc.Expression | None:
    """The request's row predicate as an Arrow expression (None: every row)."""
    parts: list[pc.Expression] = []
    if request.keys is not None and request.key_column is not None:
        field = schema.field(request.key_column)
        try:  # keys arrive as strings; compare them as the column's type
            keys = pa.array([k for k in request.keys if k is not None]).cast(field.type)
        except pa.ArrowException as exc:
            raise RequestError(
                f"keys do not fit column '{field.name}' ({field.type}): {exc}"
            ) from exc
        parts.append(pc.field(field.name).isin(keys))
    if request.timestamp_column is not None:
        ts = pc.field(request.timestamp_column)
        if request.start is not None:
            parts.append(ts >= pa.scalar(_utc(request.start), type=_TS))
        if request.end is not None:
            parts.append(ts <= pa.scalar(_utc(request.end), type=_TS))
    return functools.reduce(operator.and_, parts) if parts else None


class ParquetConnector(Connector):
    """Arrow tables in and out of a directory of Parquet files."""

    kind: ClassVar[str] = "parquet"

    def __init__(self, source: str, config: ParquetConfig) -> None:
        super().__init__(source)
        self.config = config

    @classmethod
    def from_options(cls, source: str, options: Mapping[str, Any]) -> Self:
        """Validate plain profile options; bad ones are a ConfigurationError naming the source."""
        try:
            config = ParquetConfig.model_validate(dict(options))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'options'}: {e['msg']}"
                for e in exc.errors()
            )
            raise ConfigurationError(
                f"source '{source}' ({cls.kind} connector): invalid options: {problems}"
            ) from exc
        return cls(source, config)

    def _error(self, detail: str, schema: bool = False) -> SourceError:
        cls = SourceSchemaError if schema else SourceError
        return cls(self.source, self.kind, detail)

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Driver errors leave as SourceError naming this source."""
        try:
            yield
        except PotluckError:
            raise
        except (OSError, pa.ArrowException) as exc:
            raise self._error(f"{type(exc).__name__}: {exc}") from exc

    def _path(self, table: str) -> Path:
        """The table's file; names that could leave the root directory are refused."""
        bad = not table or table.startswith(".") or "\x00" in table
        if bad or any(sep in table for sep in (os.sep, os.altsep, "/", "\\") if sep):
            raise self._error(f"invalid table name {table!r}: it must be a plain file name")
        return self.config.root / f"{table}.parquet"

    def _existing(self, table: str) -> Path:
        path = self._path(table)
        if not path.is_file():
            raise self._error(f"table '{table}' is missing (no file {path})")
        return path

    def write(self, table: str, data: pa.Table, *, mode: WriteMode = "replace") -> int:
        """Write (or append to) the table's file atomically; return the rows written."""
        if mode not in ("replace", "append"):
            raise RequestError(f"unknown write mode '{mode}' (use 'replace' or 'append')")
        path = self._path(table)
        data = _normalize(data)
        if not data.column_names:
            raise self._error("cannot write a table without columns", True)
        if len(set(data.column_names)) != len(data.column_names):
            raise self._error(f"duplicate column names in {data.column_names}", True)
        written = data.num_rows
        with self._errors():
            if mode == "append" and path.is_file():
                existing = pq.read_table(path)
                existing = existing.replace_schema_metadata(None)
                data = pa.concat_tables([existing, _conform(data, existing.schema, self._error)])
            self.config.root.mkdir(parents=True, exist_ok=True)
            _atomic_write(path, lambda tmp: pq.write_table(data, str(tmp), coerce_timestamps="us"))
        return int(written)

    def schema(self, table: str) -> pa.Schema:
        path = self._existing(table)
        with self._errors():
            schema: pa.Schema = pq.read_schema(path).remove_metadata()
        return schema

    def read(self, request: ReadRequest) -> pa.Table:
        """Projection and row filter pushed into the Parquet scan (row-group pruning)."""
        path = self._existing(request.table)
        with self._errors():
            dataset = ds.dataset(str(path), format="parquet")
            schema = dataset.schema.remove_metadata()
            names = _resolve(schema, request, self._error)
            result: pa.Table = dataset.to_table(
                columns={n: pc.field(n) for n in names}, filter=_filter(schema, request)
            )
            if not names:
                return result
            target = pa.schema([schema.field(n) for n in names])
            return pa.Table.from_arrays(result.columns, schema=target)

    def ping(self) -> None:
        """The root is a readable directory, or can be created."""
        root = self.config.root
        if root.exists():
            if not root.is_dir() or not os.access(root, os.R_OK | os.X_OK):
                raise self._error(f"{root} is not a readable directory")
            return
        parent = next(p for p in root.parents if p.exists())
        if not parent.is_dir() or not os.access(parent, os.W_OK):
            raise self._error(f"cannot create {root}: {parent} is not a writable directory")


def _atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Write via a temp file in the same directory, fsync, then rename over ``path``."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        # mkstemp makes the file private (0600); keep the table readable like any other file.
        tmp.chmod(path.stat().st_mode & 0o777 if path.exists() else 0o644)
        write(tmp)
        with tmp.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            tmp.unlink()
        raise
