"""The engineering step on Spark: point-in-time inputs joined by Spark, features by the same
pure functions as the pandas/DuckDB engine.

:func:`compute` has the contract of :func:`potluck.engineering.pipeline.compute` (same
inputs, same output tables, same values) and scales out: the as-of joins are
window functions over ``(patient, time)`` partitions instead of one DuckDB
process, and the feature formulas run inside Spark's Python workers
(``mapInArrow``) by calling :func:`potluck.engineering.pipeline.features` -- one
definition of every feature, two engines, and a parity test that they agree.

As-of join without a range join: the source rows and the snapshot rows of a
patient are unioned, ordered by (time, source rows first, table order) and each
snapshot takes ``last(row, ignorenulls)`` over everything before it -- the latest
row at or before its time, ties going to the row last in its table, exactly the
pandas engine's rule. The latest stroke at or before t (with its assessment also
at or before t) is a running ``max`` ordered by ``greatest(assessment, stroke)``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from potluck.connectors.spark.session import spark_session
from potluck.domains.healthcare.schema import ENGINEERED_SCHEMAS, JOIN_KEY
from potluck.engineering.pipeline import INPUTS, SNAPSHOT_SCHEMA, features

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["compute"]

ROW = "_row"
_SEP = "__"  # output column = f"{view}{_SEP}{feature}" inside Spark, split again on the driver


def _output_fields() -> list[pa.Field]:
    fields = [pa.field(ROW, pa.int64())]
    for view, schema in ENGINEERED_SCHEMAS.items():
        fields += [pa.field(f"{view}{_SEP}{f.name}", f.type) for f in schema]
    return fields


def _features_batches(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Runs in Spark's Python workers: the shared feature functions on each Arrow batch."""
    schema = pa.schema(_output_fields())
    for batch in batches:
        frame = batch.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
        tables = features(frame)
        columns = [pa.array(frame[ROW].to_numpy(dtype=np.int64))]
        for view in ENGINEERED_SCHEMAS:
            columns += [c.combine_chunks() for c in tables[view].columns]
        yield pa.RecordBatch.from_arrays(columns, schema=schema)


def _spark_frame(spark: SparkSession, table: pa.Table) -> DataFrame:
    return spark.createDataFrame(table)


def _as_of(snaps: DataFrame, source: DataFrame, ts: str, columns: list[str]) -> DataFrame:
    """(_row, *columns): each snapshot's latest source row at or before its time."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    rows = source.where(F.col(ts).isNotNull() & F.col(JOIN_KEY).isNotNull()).select(
        F.col(JOIN_KEY).alias("k"),
        F.col(ts).alias("t"),
        F.lit(0).alias("kind"),
        F.col("_src").alias("ord"),
        F.struct(*[F.col(c) for c in columns]).alias("v"),
        F.lit(None).cast("long").alias(ROW),
    )
    empty = F.lit(None).cast(rows.schema["v"].dataType)
    probes = snaps.select(
        F.col(JOIN_KEY).alias("k"),
        F.col("event_timestamp").alias("t"),
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
    return latest.where(F.col("kind") == 1).select(ROW, *[F.col(f"v.{c}") for c in columns])


def _last_stroke(snaps: DataFrame, outcomes: DataFrame) -> DataFrame:
    """(_row, last_stroke_date): the greatest stroke_date <= t among rows assessed <= t."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    strokes = outcomes.where(
        F.col(JOIN_KEY).isNotNull()
        & F.col("event_timestamp").isNotNull()
        & F.col("stroke_date").isNotNull()
    ).select(
        F.col(JOIN_KEY).alias("k"),
        F.greatest("event_timestamp", "stroke_date").alias("t"),
        F.lit(0).alias("kind"),
        F.col("stroke_date").alias("sd"),
        F.lit(None).cast("long").alias(ROW),
    )
    probes = snaps.select(
        F.col(JOIN_KEY).alias("k"),
        F.col("event_timestamp").alias("t"),
        F.lit(1).alias("kind"),
        F.lit(None).cast(strokes.schema["sd"].dataType).alias("sd"),
        F.col(ROW),
    )
    before = (
        Window.partitionBy("k")
        .orderBy("t", "kind")
        .rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    running = strokes.unionByName(probes).withColumn("sd", F.max("sd").over(before))
    return running.where(F.col("kind") == 1).select(ROW, F.col("sd").alias("last_stroke_date"))


def _indexed(table: pa.Table, name: str) -> pa.Table:
    return table.append_column(name, pa.array(np.arange(len(table), dtype=np.int64)))


def compute(
    tables: Mapping[str, pa.Table], snapshots: pa.Table, spark: SparkSession | None = None
) -> dict[str, pa.Table]:
    """``computed_risk_metrics`` and ``hospitalization_metrics`` computed on Spark: the same
    tables, row for row and value for value, as the pandas engine's ``compute``."""
    spark = spark or spark_session()
    snaps_arrow = _indexed(snapshots.select(list(SNAPSHOT_SCHEMA.names)).cast(SNAPSHOT_SCHEMA), ROW)
    snaps = _spark_frame(spark, snaps_arrow)
    joined = snaps
    for source, (ts, columns) in INPUTS.items():
        table = tables[source].select(list(dict.fromkeys([JOIN_KEY, ts, *columns])))
        frame = _spark_frame(spark, _indexed(table, "_src"))
        joined = joined.join(_as_of(snaps, frame, ts, columns), on=ROW, how="left")
    outcomes = tables["stroke_outcomes"].select([JOIN_KEY, "event_timestamp", "stroke_date"])
    joined = joined.join(_last_stroke(snaps, _spark_frame(spark, outcomes)), on=ROW, how="left")
    schema = pa.schema(_output_fields())
    from pyspark.sql.pandas.types import from_arrow_schema

    result = joined.mapInArrow(_features_batches, from_arrow_schema(schema)).toArrow()
    result = result.cast(schema).sort_by(ROW)
    return {view: _split(result, view, out) for view, out in ENGINEERED_SCHEMAS.items()}


def _split(result: pa.Table, view: str, schema: pa.Schema) -> pa.Table:
    columns: list[Any] = [result.column(f"{view}{_SEP}{f.name}") for f in schema]
    table = pa.Table.from_arrays(columns, schema=schema)
    return table.replace_schema_metadata(schema.metadata)
