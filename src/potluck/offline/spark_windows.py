"""Window features on Spark (``offline_store.engine: spark``): the same kernel, per key group.

Events and entity rows are co-grouped by their join keys and each group runs
:func:`potluck.windows.offline.compute` in Spark's Python workers (``applyInArrow``),
so the window rule and the empty-window values are the local engine's by construction
(each group's events are put back in input order first, for the tie rule of ``last``); the parity test holds Spark's result equal to the local one. Results come
back by entity row id, in the entity frame's order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from potluck.connectors.spark import _types
from potluck.connectors.spark.session import spark_errors, spark_session
from potluck.errors import PotluckError, SourceError
from potluck.windows.declare import output_type
from potluck.windows.offline import compute
from potluck.windows.spec import WindowFeature

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["window_columns_spark"]

_ROW = "__potluck_row"
_SEQ = "__potluck_seq"  # an event's place in the input: ties (``last``) follow input order


def _group_kernel(
    keys: list[str],
    timestamp: str,
    entity_ts: str,
    features: list[WindowFeature],
    schema: pa.Schema,
) -> Callable[[pa.Table, pa.Table], pa.Table]:
    def run(events: pa.Table, rows: pa.Table) -> pa.Table:
        if rows.num_rows == 0:
            return schema.empty_table()
        events = events.sort_by(_SEQ)  # the shuffle lost the input order
        # one thread: Spark already runs a task per core
        out = compute(
            events, keys, timestamp, rows, features, entity_timestamp_column=entity_ts, threads=1
        )
        columns = [rows[_ROW]] + [out[f.name] for f in features]
        return pa.Table.from_arrays(columns, schema=schema)

    return run


def window_columns_spark(
    events: pa.Table,
    keys: Sequence[str],
    timestamp: str,
    rows: pa.Table,
    entity_ts: str,
    features: Sequence[WindowFeature],
    spark: SparkSession | None = None,
) -> pa.Table:
    """One column per feature for every row of ``rows`` (keys + ``entity_ts``), in order."""
    from pyspark.sql.pandas.types import from_arrow_schema

    spark = spark or spark_session()
    keys, wanted = list(keys), list(features)
    indexed = rows.append_column(_ROW, pa.array(np.arange(rows.num_rows, dtype=np.int64)))
    schema = pa.schema(
        [pa.field(_ROW, pa.int64())]
        + [pa.field(f.name, output_type(f, events.schema)) for f in wanted]
    )
    failures: tuple[type[Exception], ...] = (*spark_errors(), pa.ArrowException)
    try:
        sequenced = events.append_column(_SEQ, pa.array(np.arange(events.num_rows, dtype=np.int64)))
        left = spark.createDataFrame(_types.to_storage(sequenced)[0])
        right = spark.createDataFrame(_types.to_storage(indexed)[0])
        grouped = left.groupBy(*keys).cogroup(right.groupBy(*keys))
        kernel = _group_kernel(keys, timestamp, entity_ts, wanted, schema)
        result = grouped.applyInArrow(kernel, from_arrow_schema(schema)).toArrow()
    except PotluckError:
        raise
    except failures as exc:
        raise SourceError("window features", "spark", f"{type(exc).__name__}: {exc}") from exc
    result = result.cast(schema).sort_by(_ROW)
    if result.num_rows != rows.num_rows:
        raise SourceError(
            "window features", "spark", f"{result.num_rows} results for {rows.num_rows} rows"
        )
    return result.drop_columns([_ROW])
