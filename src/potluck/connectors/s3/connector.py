"""S3 connector: Parquet tables in a bucket, through pyarrow's ``S3FileSystem``.

A table is the object ``{bucket}/{prefix}/{table}.parquet``; a table that is a
hive-partitioned *directory* ``{prefix}/{table}/col=value/...`` (what Spark
writes) is read as one dataset, with predicates on partition columns pruning
whole directories. Reads go through ``pyarrow.dataset`` with the key filter
(``isin``), the inclusive time window and the projection pushed into the scan,
so row groups whose statistics exclude the request are never fetched.

Writes go to a temporary key ``{prefix}/.{table}.{random}.tmp`` (no table name
starts with a dot) and are then copied over the table's key (S3 replaces an object atomically), so readers see
the old table or the new one, never half of one, and a failed write leaves the
old table and no temporary object. Append rewrites the object the same way
(single writer assumed). Timestamps are written as microseconds, UTC. The
bucket is created on first write if it does not exist.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any, ClassVar
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from pyarrow import fs
from pydantic import BaseModel

from potluck.connectors._arrow import (
    conform,
    driver_errors,
    filter_expression,
    resolve,
)
from potluck.connectors.base import Connector, ReadRequest, WriteMode
from potluck.connectors.s3.config import S3Config

__all__ = ["S3Connector"]


class S3Connector(Connector):
    """Arrow tables in and out of Parquet objects in one bucket."""

    kind: ClassVar[str] = "s3"
    config_model: ClassVar[type[BaseModel]] = S3Config
    config: S3Config

    def __init__(self, source: str, config: S3Config) -> None:
        super().__init__(source, config)
        self._fs: fs.S3FileSystem | None = None
        self._lock = threading.Lock()

    # -- errors, filesystem, names ------------------------------------------------------

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Driver errors leave as SourceError naming this source."""
        with driver_errors(self._error, OSError, pa.ArrowException):
            yield

    @property
    def filesystem(self) -> fs.S3FileSystem:
        """The (lazily built) S3 filesystem; cheap, but keeps its HTTP connections."""
        with self._lock:
            if self._fs is None:
                c = self.config
                extra: dict[str, Any] = {}
                if c.endpoint_url is not None:
                    url = urlsplit(c.endpoint_url)
                    extra = {"endpoint_override": url.netloc, "scheme": url.scheme}
                self._fs = fs.S3FileSystem(
                    access_key=c.access_key,
                    secret_key=c.secret_key,
                    region=c.region,
                    connect_timeout=c.timeout_s,
                    request_timeout=c.timeout_s,
                    allow_bucket_creation=True,
                    retry_strategy=fs.AwsStandardS3RetryStrategy(max_attempts=2),
                    **extra,
                )
            return self._fs

    def _key(self, table: str, suffix: str = ".parquet") -> str:
        """The table's key; names that could leave the prefix are refused."""
        bad = not table or table.startswith(".") or "\x00" in table
        if bad or "/" in table or "\\" in table:
            raise self._error(f"invalid table name {table!r}: it must be a plain object name")
        return f"{self.config.root}/{table}{suffix}"

    def _url(self, key: str) -> str:
        return f"s3://{key}"

    def _locate(self, table: str) -> tuple[str, bool]:
        """(key, is a partitioned directory) of an existing table, or a 'missing' error."""
        file_key, dir_key = self._key(table), self._key(table, "")
        with self._errors():
            file_info, dir_info = self.filesystem.get_file_info([file_key, dir_key])
        if file_info.type == fs.FileType.File:
            return file_key, False
        if dir_info.type == fs.FileType.Directory:
            return dir_key, True
        raise self._error(f"table '{table}' is missing (no object {self._url(file_key)})")

    def _dataset(self, table: str) -> ds.Dataset:
        key, partitioned = self._locate(table)
        with self._errors():
            return ds.dataset(
                key,
                filesystem=self.filesystem,
                format="parquet",
                partitioning="hive" if partitioned else None,
                exclude_invalid_files=False,
            )

    # -- the contract --------------------------------------------------------------

    def _check_name(self, table: str) -> None:
        self._key(table)  # refuses names that could leave the prefix

    def _write(self, table: str, data: pa.Table, mode: WriteMode) -> int:
        """Write (or append to) the table's object via a temporary key; return the rows written."""
        key = self._key(table)
        written = data.num_rows
        s3 = self.filesystem
        with self._errors():
            self._ensure_bucket()
            if mode == "append" and s3.get_file_info(key).type == fs.FileType.File:
                existing = pq.read_table(key, filesystem=s3).replace_schema_metadata(None)
                data = pa.concat_tables([existing, conform(data, existing.schema, self._error)])
            tmp = f"{self.config.root}/.{table}.{uuid.uuid4().hex}.tmp"
            try:
                pq.write_table(data, tmp, filesystem=s3, coerce_timestamps="us")
                s3.copy_file(tmp, key)
            finally:
                with suppress(OSError):
                    s3.delete_file(tmp)
        return int(written)

    def _ensure_bucket(self) -> None:
        s3 = self.filesystem
        if s3.get_file_info(self.config.bucket).type == fs.FileType.NotFound:
            s3.create_dir(self.config.bucket)

    def schema(self, table: str) -> pa.Schema:
        dataset = self._dataset(table)
        return dataset.schema.remove_metadata()

    def _plan(self, request: ReadRequest) -> tuple[ds.Dataset, pa.Schema, pc.Expression | None]:
        """The table's dataset, the schema ``read`` returns, the row predicate."""
        dataset = self._dataset(request.table)
        with self._errors():
            schema = dataset.schema.remove_metadata()
            names = resolve(schema, request, self._error)
            target = pa.schema([schema.field(n) for n in names])
            return dataset, target, filter_expression(schema, request)

    def read(self, request: ReadRequest) -> pa.Table:
        """Projection and row filter pushed into the Parquet scan (row-group/partition pruning)."""
        dataset, target, predicate = self._plan(request)
        if request.lean and target.names:  # one thread, one batch in flight: bounded memory
            return pa.Table.from_batches(list(self._scan(dataset, target, predicate)), target)
        with self._errors():
            columns = {n: pc.field(n) for n in target.names}
            result = dataset.to_table(columns=columns, filter=predicate)
        if not target.names:
            return result
        return pa.Table.from_arrays(result.columns, schema=target)

    def scan(self, request: ReadRequest) -> Iterator[pa.RecordBatch] | None:
        """The objects once, batch by batch on this thread, filtered as they come."""
        dataset, target, predicate = self._plan(request)
        return self._scan(dataset, target, predicate) if target.names else None

    def _scan(
        self, dataset: ds.Dataset, target: pa.Schema, predicate: pc.Expression | None
    ) -> Iterator[pa.RecordBatch]:
        with self._errors():
            for batch in _lean_batches(dataset, {n: pc.field(n) for n in target.names}, predicate):
                if batch.num_rows:
                    yield pa.RecordBatch.from_arrays(batch.columns, schema=target)

    def ping(self) -> None:
        """The endpoint answers, and the bucket exists or may be created."""
        with self._errors():
            self.filesystem.get_file_info(self.config.bucket)


def _lean_batches(
    dataset: ds.Dataset, columns: dict[str, pc.Expression], predicate: pc.Expression | None
) -> Iterator[pa.RecordBatch]:
    """One thread, one batch in flight: bounded memory."""
    return dataset.to_batches(
        columns=columns,
        filter=predicate,
        use_threads=False,
        batch_readahead=0,
        fragment_readahead=0,
    )
