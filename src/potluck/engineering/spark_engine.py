"""The engineering step on Spark: point-in-time inputs joined by Spark, features by the same
pure functions as the pandas/DuckDB engine.

:func:`compute` has the contract of :func:`potluck.engineering.pipeline.compute` (same
inputs, same output tables, same values) and scales out: the as-of joins are
window functions over ``(key, time)`` partitions instead of one DuckDB
process, and the feature formulas run inside Spark's Python workers
(``mapInArrow``) by calling :func:`potluck.engineering.pipeline.features` -- one
definition of every feature, two engines, and a parity test that they agree.

As-of join without a range join: the source rows and the snapshot rows of a
key are unioned, ordered by (time, source rows first, table order) and each
snapshot takes ``last(row, ignorenulls)`` over everything before it -- the latest
row at or before its time, ties going to the row last in its table, exactly the
pandas engine's rule. Each ``MaxAtOrBefore`` (the greatest value <= t among rows recorded <= t) is a
running ``max`` ordered by ``greatest(recorded, value)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from potluck.connectors.spark.session import spark_session
from potluck.deployment import EngineeringSpec, MaxAtOrBefore
from potluck.engineering.pipeline import TIME, features, snapshot_schema

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

__all__ = ["compute"]

ROW = "_row"
_SEP = "__"  # output column = f"{view}{_SEP}{feature}" inside Spark, split again on the driver


def _output_fields(spec: EngineeringSpec) -> list[pa.Field]:
    fields = [pa.field(ROW, pa.int64())]
    for view, schema in spec.outputs.items():
        fields += [pa.field(f"{view}{_SEP}{f.name}", f.type) for f in schema]
    return fields


def _features_batches(
    spec: EngineeringSpec, keys: list[str]
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """Runs in Spark's Python workers: the shared feature functions on each Arrow batch."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        schema = pa.schema(_output_fields(spec))
        for batch in batches:
            frame = batch.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
            tables = features(spec, keys, frame)
            columns = [pa.array(frame[ROW].to_numpy(dtype=np.int64))]
            for view in spec.outputs:
                columns += [c.combine_chunks() for c in tables[view].columns]
            yield pa.RecordBatch.from_arrays(columns, schema=schema)

    return run


def _spark_frame(spark: SparkSession, table: pa.Table) -> DataFrame:
    return spark.createDataFrame(table)


def _key(keys: list[str]) -> Column:
    from pyspark.sql import functions as F

    return F.col(keys[0]) if len(keys) == 1 else F.struct(*[F.col(k) for k in keys])


def _as_of(
    snaps: DataFrame, source: DataFrame, keys: list[str], ts: str, columns: dict[str, str]
) -> DataFrame:
    """(_row, *nodes): each snapshot's latest source row at or before its time."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    valid = F.col(ts).isNotNull()
    for k in keys:
        valid = valid & F.col(k).isNotNull()
    rows = source.where(valid).select(
        _key(keys).alias("k"),
        F.col(ts).alias("t"),
        F.lit(0).alias("kind"),
        F.col("_src").alias("ord"),
        F.struct(*[F.col(c).alias(node) for c, node in columns.items()]).alias("v"),
        F.lit(None).cast("long").alias(ROW),
    )
    empty = F.lit(None).cast(rows.schema["v"].dataType)
    probes = snaps.select(
        _key(keys).alias("k"),
        F.col(TIME).alias("t"),
        F.lit(1).alias("kind"),
        F.col(ROW).alias("ord"),
        empty.alias("v"),
        F.col(ROW),
    )
    before = (
        Window.partitionBy("k")
        .orderBy("t", "kind", "ord")
        .rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    latest = rows.unionByName(probes).withColumn("v", F.last("v", ignorenulls=True).over(before))
    return latest.where(F.col("kind") == 1).select(
        ROW, *[F.col(f"v.{node}") for node in columns.values()]
    )


def _running_max(
    snaps: DataFrame, source: DataFrame, keys: list[str], rm: MaxAtOrBefore
) -> DataFrame:
    """(_row, output): the greatest ``column`` <= t among rows recorded <= t."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    valid = F.col(rm.timestamp).isNotNull() & F.col(rm.column).isNotNull()
    for k in keys:
        valid = valid & F.col(k).isNotNull()
    values = source.where(valid).select(
        _key(keys).alias("k"),
        F.greatest(rm.timestamp, rm.column).alias("t"),
        F.lit(0).alias("kind"),
        F.col(rm.column).alias("sd"),
        F.lit(None).cast("long").alias(ROW),
    )
    probes = snaps.select(
        _key(keys).alias("k"),
        F.col(TIME).alias("t"),
        F.lit(1).alias("kind"),
        F.lit(None).cast(values.schema["sd"].dataType).alias("sd"),
        F.col(ROW),
    )
    before = (
        Window.partitionBy("k")
        .orderBy("t", "kind")
        .rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    running = values.unionByName(probes).withColumn("sd", F.max("sd").over(before))
    return running.where(F.col("kind") == 1).select(ROW, F.col("sd").alias(rm.output))


def _indexed(table: pa.Table, name: str) -> pa.Table:
    return table.append_column(name, pa.array(np.arange(len(table), dtype=np.int64)))


def compute(
    spec: EngineeringSpec,
    keys: Mapping[str, pa.DataType],
    tables: Mapping[str, pa.Table],
    snapshots: pa.Table,
    spark: SparkSession | None = None,
) -> dict[str, pa.Table]:
    """The engineered views of ``spec`` computed on Spark: the same tables, row for row and
    value for value, as the pandas engine's ``compute``."""
    spark = spark or spark_session()
    names = list(keys)
    schema_in = snapshot_schema(keys)
    snaps_arrow = _indexed(snapshots.select(schema_in.names).cast(schema_in), ROW)
    snaps = _spark_frame(spark, snaps_arrow)
    joined = snaps
    for source, spec_in in spec.inputs.items():
        ts = spec_in.timestamp
        table = tables[source].select(list(dict.fromkeys([*names, ts, *spec_in.columns])))
        frame = _spark_frame(spark, _indexed(table, "_src"))
        nodes = dict(spec_in.columns)
        joined = joined.join(_as_of(snaps, frame, names, ts, nodes), on=ROW, how="left")
    for rm in spec.running_max:
        table = tables[rm.source].select([*names, rm.timestamp, rm.column])
        frame = _spark_frame(spark, table)
        joined = joined.join(_running_max(snaps, frame, names, rm), on=ROW, how="left")
    schema = pa.schema(_output_fields(spec))
    from pyspark.sql.pandas.types import from_arrow_schema

    result = joined.mapInArrow(_features_batches(spec, names), from_arrow_schema(schema)).toArrow()
    result = result.cast(schema).sort_by(ROW)
    return {view: _split(result, view, out) for view, out in spec.outputs.items()}


def _split(result: pa.Table, view: str, schema: pa.Schema) -> pa.Table:
    columns: list[Any] = [result.column(f"{view}{_SEP}{f.name}") for f in schema]
    table = pa.Table.from_arrays(columns, schema=schema)
    return table.replace_schema_metadata(schema.metadata)
