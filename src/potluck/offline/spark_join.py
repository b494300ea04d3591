"""The point-in-time join on Spark (``offline_store.engine: spark``), for when one machine
is not enough.

Same contract and semantics as :func:`potluck.offline.pit_join.point_in_time_join` (the
DuckDB engine), checked equal by the parity tests: for each entity row and view, the
feature row with the same join keys whose event time is at or before the entity time
and not older than the view's TTL; the latest event time wins, ties on event time go
to the latest ``created`` timestamp; no match gives nulls; every entity row comes back
exactly once, in its original order.

Only the entity frame's join keys, its timestamp and a row id go to Spark (the other
entity columns stay in Arrow and are put back by row id). Each view is deduplicated
per (keys, event time) with ``row_number``, then joined as of the entity time without
a range join: feature rows and entity rows of the same keys are unioned, ordered by
time (feature rows first on equal times) and each entity row takes
``last(feature row, ignorenulls)`` before it. The TTL is compared in exact microseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from potluck.connectors.spark import _types
from potluck.connectors.spark.session import spark_errors, spark_session
from potluck.errors import EntityFrameError, PotluckError, SourceError
from potluck.offline.pit_join import ROW_ID, _check_key_types, _restore_types
from potluck.offline.pull import CREATED, TS, ViewSlice

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

__all__ = ["point_in_time_join"]

_SRC = "__potluck_src"  # a view row's position in its pulled table: deterministic ties
_T, _KIND, _V = "__potluck_t", "__potluck_kind", "__potluck_v"


def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _frame(spark: SparkSession, table: pa.Table) -> DataFrame:
    """An Arrow table as a DataFrame, types Spark lacks stored wider (cast back at the end)."""
    stored, _ = _types.to_storage(table)
    return spark.createDataFrame(stored)


def _latest_per_event(view: ViewSlice, rows: DataFrame) -> DataFrame:
    """One row per (keys, event time): the latest created, else the last in the pulled table."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    keys = [F.col(_q(k)) for k in view.join_key_map]
    present = F.col(_q(TS)).isNotNull()
    for key in keys:
        present = present & key.isNotNull()
    order = [F.col(_q(CREATED)).desc_nulls_last()] if view.has_created else []
    order.append(F.col(_SRC).desc())
    rank = F.row_number().over(Window.partitionBy(*keys, F.col(_q(TS))).orderBy(*order))
    return rows.where(present).withColumn("__potluck_rank", rank).where("__potluck_rank = 1")


def _view_values(
    spark: SparkSession, probes: DataFrame, view: ViewSlice, entity_ts: str, index: int
) -> DataFrame:
    """(ROW_ID, outputs...) of one view for every entity row."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    table = view.table.append_column(_SRC, pa.array(np.arange(view.table.num_rows)))
    rows = _latest_per_event(view, _frame(spark, table))
    # Outputs travel under positional names: any feature name is safe inside the struct.
    payload = [F.col(_q(TS)).alias("ts")]
    payload += [F.col(_q(name)).alias(f"o{i}") for i, name in enumerate(view.outputs)]
    entity_keys = list(view.join_key_map.values())
    features = rows.select(
        *[F.col(_q(k)).alias(f"k{i}") for i, k in enumerate(view.join_key_map)],
        F.col(_q(TS)).alias(_T),
        F.lit(0).alias(_KIND),
        F.struct(*payload).alias(_V),
        F.lit(None).cast("long").alias(ROW_ID),
    )
    key_types = [features.schema[f"k{i}"].dataType for i in range(len(entity_keys))]
    lookups = probes.select(
        *[
            F.col(_q(c)).cast(t).alias(f"k{i}")
            for i, (c, t) in enumerate(zip(entity_keys, key_types, strict=True))
        ],
        F.col(_q(entity_ts)).alias(_T),
        F.lit(1).alias(_KIND),
        F.lit(None).cast(features.schema[_V].dataType).alias(_V),
        F.col(ROW_ID),
    )
    before = (
        Window.partitionBy(*[f"k{i}" for i in range(len(entity_keys))])
        .orderBy(_T, _KIND)
        .rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    joined = features.unionByName(lookups).withColumn(_V, F.last(_V, ignorenulls=True).over(before))
    joined = joined.where(F.col(_KIND) == 1)
    fresh: Column = F.col(f"{_V}.ts").isNotNull()
    if view.ttl is not None:
        micros = view.ttl // timedelta(microseconds=1)  # exact; float seconds are not
        fresh = fresh & (
            F.unix_micros(F.col(f"{_V}.ts")) >= F.unix_micros(F.col(_T)) - F.lit(micros)
        )
    values = [
        F.when(fresh, F.col(f"{_V}.o{i}")).alias(f"v{index}_{i}") for i in range(len(view.outputs))
    ]
    return joined.select(F.col(ROW_ID), *values)


def point_in_time_join(
    entity: pa.Table,
    timestamp_column: str,
    views: Sequence[ViewSlice],
    spark: SparkSession | None = None,
) -> pa.Table:
    """Join ``views`` onto ``entity`` point-in-time on Spark; returns entity columns + outputs."""
    outputs = [name for view in views for name in view.outputs]
    clash = sorted(set(outputs) & set(entity.column_names))
    if clash:
        raise EntityFrameError(
            f"entity frame columns collide with requested feature names: {', '.join(clash)} "
            "(rename them or use full feature names)"
        )
    for view in views:
        _check_key_types(entity, view)
    failures: tuple[type[Exception], ...] = (*spark_errors(), pa.ArrowException)
    try:
        return _join(entity, timestamp_column, views, spark or spark_session())
    except PotluckError:
        raise
    except failures as exc:
        raise SourceError("point-in-time join", "spark", f"{type(exc).__name__}: {exc}") from exc


def _join(
    entity: pa.Table, timestamp_column: str, views: Sequence[ViewSlice], spark: SparkSession
) -> pa.Table:
    from pyspark.sql import functions as F

    keys = list(dict.fromkeys(c for view in views for c in view.join_key_map.values()))
    probe = entity.select([*keys, timestamp_column])
    probe = probe.append_column(ROW_ID, pa.array(np.arange(entity.num_rows, dtype=np.int64)))
    probes = _frame(spark, probe)
    result = probes.select(ROW_ID)
    for index, view in enumerate(views):
        if view.outputs:
            result = result.join(
                _view_values(spark, probes, view, timestamp_column, index), on=ROW_ID, how="left"
            )
    collected = result.orderBy(F.col(ROW_ID)).toArrow()
    columns = list(entity.columns)
    names = list(entity.column_names)
    for index, view in enumerate(views):
        for i, name in enumerate(view.outputs):
            columns.append(collected.column(f"v{index}_{i}"))
            names.append(name)
    table = pa.Table.from_arrays(columns, names=names)
    return _restore_types(table, entity, views)
