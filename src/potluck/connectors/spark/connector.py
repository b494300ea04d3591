"""Spark connector: Parquet directories (``{root}/{table}``) or catalog tables through Spark.

Reads build one DataFrame plan -- the key filter (``isin``), the inclusive time
window and the projection -- so Spark pushes them into the Parquet scan
(``PushedFilters``, column pruning) before anything is collected; the result
comes back as Arrow (``DataFrame.toArrow``, no pandas or row objects). Writes go
the other way: Arrow -> ``createDataFrame`` -> Parquet (or a catalog table).

Exact round trips: Spark cannot store some Arrow types (unsigned integers, the
null type, large strings), so each column carries its Arrow field in Spark's
column metadata and reads cast back (see ``_types``). Spark reads a directory's
files in no fixed order, so two hidden columns record the write order and reads
sort on them (only for tables potluck wrote; other tables come in Spark's order).

Replace writes a new directory (or table) first and swaps it in afterwards, so a
failed write leaves the old table readable. Identifiers are always backtick-quoted.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pyarrow as pa
from pydantic import BaseModel

from potluck.connectors._arrow import (
    conform,
    driver_errors,
    request_keys,
    resolve,
    utc,
)
from potluck.connectors.base import Connector, ReadRequest, WriteMode
from potluck.connectors.spark import _types
from potluck.connectors.spark.config import SparkConfig
from potluck.connectors.spark.session import spark_errors, spark_session

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

__all__ = ["SparkConnector", "quote"]


def quote(name: str) -> str:
    """A Spark SQL identifier that is always read as one name, whatever it contains."""
    return "`" + name.replace("`", "``") + "`"


class SparkConnector(Connector):
    """Arrow tables in and out of Spark (Parquet paths or catalog tables)."""

    kind: ClassVar[str] = "spark"
    config_model: ClassVar[type[BaseModel]] = SparkConfig
    config: SparkConfig

    def __init__(self, source: str, config: SparkConfig) -> None:
        super().__init__(source, config)

    # -- errors, session, locations ----------------------------------------------

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Spark, JVM and Arrow errors leave as SourceError naming this source."""
        with driver_errors(self._error, *spark_errors(), OSError, pa.ArrowException):
            yield

    @property
    def spark(self) -> SparkSession:
        return spark_session(self.config, source=self.source)

    def _check_name(self, table: str) -> None:
        # Hadoop paths cannot hold ':' and Spark hides names starting with '.' or '_'.
        if not table or table[0] in "._" or any(c in table for c in "/\\:\x00"):
            raise self._error(
                f"invalid table name {table!r}: use a plain name without / \\ : "
                "and not starting with '.' or '_'"
            )

    def _path(self, table: str) -> str:
        assert self.config.root is not None
        return self.config.root.rstrip("/") + "/" + table

    def _qualified(self, table: str) -> str:
        assert self.config.database is not None
        return f"{quote(self.config.database)}.{quote(table)}"

    def _fs(self, path: str) -> tuple[Any, Any]:
        """(Hadoop FileSystem, Path) for ``path``: the same view of storage Spark has."""
        spark = self.spark
        jvm: Any = spark.sparkContext._jvm
        hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
        conf = spark.sparkContext._jsc.hadoopConfiguration()  # type: ignore[union-attr]
        return hadoop_path.getFileSystem(conf), hadoop_path

    def _exists(self, table: str) -> bool:
        if self.config.database is not None:
            return bool(self.spark.catalog.tableExists(self._qualified(table)))
        fs, path = self._fs(self._path(table))
        return bool(fs.exists(path))

    def _frame(self, table: str) -> DataFrame:
        self._check_name(table)
        with self._errors():
            if not self._exists(table):
                where = self.config.root or self.config.database
                raise self._error(f"table '{table}' is missing from {where}")
            if self.config.database is not None:
                return self.spark.table(self._qualified(table))
            return self.spark.read.parquet(self._path(table))

    def _stored(self, frame: DataFrame) -> pa.Schema:
        from pyspark.sql.pandas.types import to_arrow_schema
        from pyspark.sql.types import StructType

        visible = [f for f in frame.schema.fields if f.name not in _types.HIDDEN]
        fallback = to_arrow_schema(StructType(visible), timezone="UTC")
        metas = [_types.arrow_meta(dict(f.metadata or {})) for f in visible]
        return _types.stored_schema(metas, fallback)

    # -- the contract --------------------------------------------------------------

    def _write(self, table: str, data: pa.Table, mode: WriteMode) -> int:
        """Append in place, or replace by writing aside and swapping; return the rows written."""
        with self._errors():
            append = mode == "append" and self._exists(table)
            if append:
                data = conform(data, self.schema(table), self._error)
            frame = self._frame_of(data)
            if append:
                self._save(frame.write.mode("append"), table)
            else:
                self._replace(table, frame)
        return int(data.num_rows)

    def _check_writable(self, data: pa.Table) -> None:
        schema = data.schema
        if not schema.names:
            raise self._error("cannot write a table without columns", True)
        # Spark resolves column names case-insensitively.
        lowered = [n.lower() for n in schema.names]
        twice = sorted({n for n in schema.names if lowered.count(n.lower()) > 1})
        if twice:
            raise self._error(f"duplicate column name(s) {twice}", True)
        reserved = [n for n in schema.names if n in _types.HIDDEN]
        bad = _types.unsupported(schema)
        if reserved or bad:
            raise self._error(
                f"column(s) Spark cannot store here: {', '.join([*bad, *reserved])}", True
            )

    def _frame_of(self, data: pa.Table) -> DataFrame:
        """The data as a Spark DataFrame with its Arrow fields in the column metadata."""
        from pyspark.sql import functions as F

        stored, metadata = _types.to_storage(data)
        rows = data.num_rows
        stored = stored.append_column(_types.WRITE, pa.array(np.full(rows, time.time_ns())))
        stored = stored.append_column(_types.ROW, pa.array(np.arange(rows, dtype=np.int64)))
        frame = self.spark.createDataFrame(stored)
        columns = [
            F.col(quote(name)).alias(name, metadata={_types.ARROW_KEY: metadata[name]})
            for name in data.column_names
        ]
        return frame.select(*columns, _types.WRITE, _types.ROW)

    def _save(self, writer: Any, table: str) -> None:
        if self.config.database is not None:
            writer.format("parquet").saveAsTable(self._qualified(table))
        else:
            writer.parquet(self._path(table))

    def _replace(self, table: str, frame: DataFrame) -> None:
        aside = f"{table}__potluck_tmp_{uuid.uuid4().hex}"
        if self.config.database is not None:
            self._replace_table(table, aside, frame)
            return
        fs, target = self._fs(self._path(table))
        _, tmp = self._fs(self.config.root.rstrip("/") + "/." + aside)  # type: ignore[union-attr]
        _, old = self._fs(self.config.root.rstrip("/") + "/.old_" + aside)  # type: ignore[union-attr]
        try:
            frame.write.mode("errorifexists").parquet(str(tmp.toString()))
        except BaseException:
            with suppress(Exception):
                fs.delete(tmp, True)
            raise
        if fs.exists(target) and not fs.rename(target, old):
            fs.delete(tmp, True)
            raise self._error(f"could not move the old table '{table}' aside")
        if not fs.rename(tmp, target):
            fs.rename(old, target)
            raise self._error(f"could not move the new table '{table}' into place")
        fs.delete(old, True)

    def _replace_table(self, table: str, aside: str, frame: DataFrame) -> None:
        spark, name = self.spark, self._qualified(table)
        frame.write.mode("errorifexists").format("parquet").saveAsTable(self._qualified(aside))
        try:
            spark.sql(f"DROP TABLE IF EXISTS {name}")
            spark.sql(f"ALTER TABLE {self._qualified(aside)} RENAME TO {name}")
        except BaseException:
            with suppress(Exception):
                spark.sql(f"DROP TABLE IF EXISTS {self._qualified(aside)}")
            raise

    def schema(self, table: str) -> pa.Schema:
        frame = self._frame(table)
        with self._errors():
            return self._stored(frame)

    def read(self, request: ReadRequest) -> pa.Table:
        """One Spark plan: filter and projection pushed into the scan, collected as Arrow."""
        frame, target = self._plan(request)
        with self._errors():
            if not target.names:  # a zero-column result still has a row count
                return pa.table({"_": pa.nulls(frame.count())}).select([])
            return _types.from_storage(frame.toArrow(), target)

    def explain(self, request: ReadRequest) -> str:
        """Spark's physical plan for ``request``: shows the filters pushed into the scan."""
        frame, _ = self._plan(request)
        with self._errors():
            plan: str = frame._jdf.queryExecution().executedPlan().toString()
            return plan

    def _plan(self, request: ReadRequest) -> tuple[DataFrame, pa.Schema]:
        """The request as one DataFrame (filter, write order, projection) and its Arrow schema."""
        frame = self._frame(request.table)
        with self._errors():
            stored = self._stored(frame)
            names = resolve(stored, request, self._error)
            condition = self._condition(stored, request)
            if condition is not None:
                frame = frame.filter(condition)
            if not names:
                return frame, pa.schema([])
            if _types.WRITE in frame.columns and _types.ROW in frame.columns:
                frame = frame.orderBy(_types.WRITE, _types.ROW)
            frame = frame.select(*[quote(n) for n in names])
            return frame, pa.schema([stored.field(n) for n in names])

    def _condition(self, stored: pa.Schema, request: ReadRequest) -> Column | None:
        from pyspark.sql import functions as F

        parts: list[Column] = []
        if request.keys is not None and request.key_column is not None:
            field = stored.field(request.key_column)
            keys = request_keys(field, request.keys).to_pylist()
            column = F.col(quote(field.name))
            parts.append(column.isin(keys) if keys else F.lit(False))
        if request.timestamp_column is not None:
            ts = F.col(quote(request.timestamp_column))
            if request.start is not None:
                parts.append(ts >= F.lit(utc(request.start)))
            if request.end is not None:
                parts.append(ts <= F.lit(utc(request.end)))
        condition = None
        for part in parts:
            condition = part if condition is None else condition & part
        return condition

    def ping(self) -> None:
        """Spark starts, and the root (or database) can be reached."""
        with self._errors():
            if self.config.database is not None:
                if not self.spark.catalog.databaseExists(self.config.database):
                    raise self._error(f"database '{self.config.database}' does not exist")
                return
            fs, root = self._fs(self.config.root or "")
            if fs.exists(root) and not fs.getFileStatus(root).isDirectory():
                raise self._error(f"{self.config.root} is not a directory")
