"""Window features in a training set: events pulled with pushdown, then the exact kernel.

For a windowed view (see :mod:`potluck.windows.declare`) the federated store reads the
view's event source for the entity frame's keys and the time range
``[min t - longest window, max t]`` (pushed down to the connector) and computes each
requested feature with :func:`potluck.windows.offline.compute`: one value per entity
row, in the entity frame's order, never a dropped row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pyarrow as pa
from feast.feature_view import FeatureView
from feast.repo_config import RepoConfig

from potluck.connectors import ReadRequest
from potluck.errors import FeatureReferenceError
from potluck.offline.pull import DistinctKeys, potluck_source, read_source
from potluck.windows.declare import window_features_of
from potluck.windows.offline import compute

__all__ = ["is_windowed", "window_columns"]

_ENTITY_TS = "__potluck_entity_ts"


def is_windowed(view: FeatureView) -> bool:
    return window_features_of(view) is not None


def window_columns(
    config: RepoConfig,
    view: FeatureView,
    features: Sequence[str],
    outputs: Sequence[str],
    entity: pa.Table,
    timestamp_column: str,
    start: datetime,
    end: datetime,
    distinct: DistinctKeys | None = None,
) -> list[tuple[str, pa.ChunkedArray | pa.Array]]:
    """(output name, values) of ``features`` for every row of ``entity`` (``distinct``:
    the entity keys, shared by the views of one retrieval)."""
    specs = {f.name: f for f in window_features_of(view) or []}
    unknown = [f"{view.name}:{n}" for n in features if n not in specs]
    if unknown:
        raise FeatureReferenceError(unknown)
    wanted = [specs[n] for n in features]
    source = potluck_source(view)
    join_key_map = dict(view.projection.join_key_map) or {
        c.name: c.name for c in view.entity_columns
    }
    reverse = {feature: column for column, feature in source.field_mapping.items()}
    key_columns = [reverse.get(k, k) for k in join_key_map]
    needed = {c for f in wanted for c in f.columns}
    columns = list(dict.fromkeys([*key_columns, source.timestamp_field, *sorted(needed)]))
    first_key, first_entity_col = next(iter(join_key_map.items()))
    keys = (distinct or DistinctKeys(entity))(first_entity_col)
    longest = max(f.window for f in wanted)
    events = read_source(
        config,
        source,
        ReadRequest(
            table=source.table,
            columns=columns,
            key_column=reverse.get(first_key, first_key),
            keys=keys,
            timestamp_column=source.timestamp_field,
            start=start - longest,
            end=end,
        ),
    )
    rows = pa.table(
        {
            **{
                col: entity[ent]
                for col, ent in zip(key_columns, join_key_map.values(), strict=True)
            },
            _ENTITY_TS: entity[timestamp_column],
        }
    )
    if getattr(config.offline_store, "engine", "duckdb") == "spark":
        from potluck.offline.spark_windows import window_columns_spark  # pyspark when asked

        result = window_columns_spark(
            events, key_columns, source.timestamp_field, rows, _ENTITY_TS, wanted
        )
    else:
        result = compute(
            events,
            key_columns,
            source.timestamp_field,
            rows,
            wanted,
            entity_timestamp_column=_ENTITY_TS,
        )
    return [(out, result[f.name]) for f, out in zip(wanted, outputs, strict=True)]
