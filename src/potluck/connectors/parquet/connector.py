"""Parquet connector: one ``{root}/{table}.parquet`` file per table.

The embedded stand-in for S3/MinIO Parquet. Reads go through
``pyarrow.dataset`` with a filter expression (keys via ``isin``, the inclusive
time window as comparisons) and a column projection, so row groups whose
statistics exclude the request are skipped and unread columns are never
decoded.

Timestamps are written as microseconds, tz-aware UTC (``coerce_timestamps="us"``):
DuckDB cannot read nanosecond tz timestamps. A file another tool wrote (pandas'
``to_parquet``: naive nanosecond timestamps) is read with its own types except that
timestamps come back as ``timestamp[us, UTC]`` (naive taken as UTC, nanoseconds floored),
as everywhere at the connector boundary. Writes go to a temporary file in
the same directory that is then ``os.replace``-d over the table, so readers see
the old file or the new one, never half of one, and a failed write leaves the
old table intact. Append rewrites the whole file the same way (single writer
assumed: two concurrent appends would lose one).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import ClassVar

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from pydantic import BaseModel

from potluck.connectors._arrow import (
    conform,
    driver_errors,
    filter_columns,
    filter_expression,
    normalize,
    resolve,
)
from potluck.connectors._files import atomic_write, check_root, table_file
from potluck.connectors.base import Connector, ReadRequest, WriteMode
from potluck.connectors.parquet.config import ParquetConfig

__all__ = ["ParquetConnector"]


class ParquetConnector(Connector):
    """Arrow tables in and out of a directory of Parquet files."""

    kind: ClassVar[str] = "parquet"
    config_model: ClassVar[type[BaseModel]] = ParquetConfig
    config: ParquetConfig

    def __init__(self, source: str, config: ParquetConfig) -> None:
        super().__init__(source, config)

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Driver errors leave as SourceError naming this source."""
        with driver_errors(self._error, OSError, pa.ArrowException):
            yield

    def _path(self, table: str) -> Path:
        """The table's file; names that could leave the root directory are refused."""
        return table_file(self.config.root, table, ".parquet", self._error)

    def _existing(self, table: str) -> Path:
        path = self._path(table)
        if not path.is_file():
            raise self._error(f"table '{table}' is missing (no file {path})")
        return path

    def _check_name(self, table: str) -> None:
        self._path(table)  # refuses names that could leave the root directory

    def _write(self, table: str, data: pa.Table, mode: WriteMode) -> int:
        """Write (or append to) the table's file atomically; return the rows written."""
        path = self._path(table)
        written = data.num_rows
        with self._errors():
            if mode == "append" and path.is_file():
                existing = normalize(pq.read_table(path).replace_schema_metadata(None))
                data = pa.concat_tables([existing, conform(data, existing.schema, self._error)])
            self.config.root.mkdir(parents=True, exist_ok=True)
            atomic_write(path, lambda tmp: pq.write_table(data, str(tmp), coerce_timestamps="us"))
        return int(written)

    def schema(self, table: str) -> pa.Schema:
        path = self._existing(table)
        with self._errors():
            return _normal(pq.read_schema(path).remove_metadata())

    def _plan(self, request: ReadRequest) -> tuple[Path, pa.Schema, pc.Expression | None]:
        """The table's file, the schema ``read`` returns, the row predicate."""
        path = self._existing(request.table)
        with self._errors():
            schema = pq.read_schema(path).remove_metadata()
            names = resolve(schema, request, self._error)
            target = _normal(pa.schema([schema.field(n) for n in names]))
            return path, target, filter_expression(schema, request)

    def read(self, request: ReadRequest) -> pa.Table:
        """Projection and row filter pushed into the Parquet scan (row-group pruning)."""
        if request.keys_optional and request.keys is not None and not request.lean:
            request = self._filtering_worth_it(request)
        path, target, predicate = self._plan(request)
        if request.lean and target.names:
            return pa.Table.from_batches(list(self._scan(path, target, request, predicate)), target)
        with self._errors():
            dataset = ds.dataset(str(path), format="parquet")
            columns = {n: pc.field(n) for n in target.names}
            result = dataset.to_table(columns=columns, filter=predicate)
        if not target.names:
            return result
        return pa.Table.from_arrays(normalize(result).columns, schema=target)

    def _filtering_worth_it(self, request: ReadRequest) -> ReadRequest:
        """The request without its (optional) keys when they are at least a quarter of
        the file's rows: hashing every row against them then costs more (~60 ms per
        100k keys and 250k rows) than the caller dropping the few rows of other keys."""
        assert request.keys is not None
        with self._errors():
            rows = pq.read_metadata(self._existing(request.table)).num_rows
        return replace(request, keys=None) if len(request.keys) * 4 >= rows else request

    def scan(self, request: ReadRequest) -> Iterator[pa.RecordBatch] | None:
        """The file once, batch by batch on this thread, filtered as it goes."""
        path, target, predicate = self._plan(request)
        return self._scan(path, target, request, predicate) if target.names else None

    def _scan(
        self,
        path: Path,
        target: pa.Schema,
        request: ReadRequest,
        predicate: pc.Expression | None,
    ) -> Iterator[pa.RecordBatch]:
        with self._errors():
            for part in _lean_parts(path, target.names, request, predicate):
                for batch in normalize(part).to_batches():
                    if batch.num_rows:
                        yield pa.RecordBatch.from_arrays(batch.columns, schema=target)

    def ping(self) -> None:
        """The root is a readable directory, or can be created."""
        check_root(self.config.root, self._error)


def _normal(schema: pa.Schema) -> pa.Schema:
    """The schema ``read`` returns for a file: timestamps as ``timestamp[us, UTC]`` (a file
    another tool wrote may hold naive or nanosecond ones), dictionaries decoded."""
    return normalize(schema.empty_table()).schema


# Lean reads stream each column chunk through a 1 MiB buffer (not whole into memory)
# and decode 16k rows at a time: 1.2M entity rows materialized peaked at 285 MB
# instead of 293-297 MB, and ran faster (less to allocate per batch).
_LEAN_BATCH_ROWS = 16_384
_LEAN_BUFFER_BYTES = 1 << 20


def _lean_parts(
    path: Path, names: list[str], request: ReadRequest, predicate: pc.Expression | None
) -> Iterator[pa.Table]:
    """The file's batches one at a time, on this thread, filtered as they come."""
    read = list(dict.fromkeys([*names, *filter_columns(request)]))  # the predicate's too
    reader = pq.ParquetFile(path, buffer_size=_LEAN_BUFFER_BYTES, pre_buffer=False)
    for batch in reader.iter_batches(batch_size=_LEAN_BATCH_ROWS, columns=read, use_threads=False):
        part = pa.Table.from_batches([batch])
        yield (part if predicate is None else part.filter(predicate)).select(names)
