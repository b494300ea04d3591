"""The engineering step: point-in-time inputs joined by DuckDB, features by pure functions.

Generic over a deployment's :class:`~potluck.deployment.EngineeringSpec`:
:func:`snapshot_times` lists the times at which features are computed (every
anchor row's time, plus ``as_of`` for every key); :func:`compute` evaluates the
engineered views at those times.

Point-in-time rules, for a snapshot (key, t) -- nothing after t is read and
nothing reads the wall clock:

* each :class:`~potluck.deployment.AsOfInput`: the source's latest row with
  ``timestamp <= t``;
* each :class:`~potluck.deployment.MaxAtOrBefore`: the greatest value ``<= t``
  among rows whose timestamp is ``<= t``.

Rows sharing a key and timestamp resolve to the one appearing last in its source
table. Output rows follow the snapshot rows one to one, in order; a snapshot with
no data before it yields nulls, never a dropped row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from potluck.deployment import EngineeringSpec
from potluck.engineering.dag import evaluate, functions_of

__all__ = ["TIME", "compute", "features", "snapshot_schema", "snapshot_times"]

TS = pa.timestamp("us", tz="UTC")
TIME = "event_timestamp"  # the snapshot time column of every engineered view
TIME_NODE = "event_time"  # ... and the name feature functions know it by


def snapshot_schema(keys: Mapping[str, pa.DataType]) -> pa.Schema:
    return pa.schema([*keys.items(), (TIME, TS)])


def snapshot_times(
    anchor: pa.Table, keys: Mapping[str, pa.DataType], timestamp: str, as_of: datetime
) -> pa.Table:
    """(keys..., event_timestamp): every anchor row's time for its key, plus ``as_of`` for
    every key, deduplicated and sorted."""
    as_of = as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC)
    names = list(keys)
    key_table = pa.table({k: anchor.column(k).cast(t).combine_chunks() for k, t in keys.items()})
    times = anchor.column(timestamp).cast(TS).combine_chunks()
    distinct = key_table.group_by(names, use_threads=False).aggregate([])
    columns = {
        k: pa.concat_arrays(
            [key_table.column(k).combine_chunks(), distinct.column(k).combine_chunks()]
        )
        for k in names
    }
    columns[TIME] = pa.concat_arrays([times, pa.array([as_of] * distinct.num_rows, TS)])
    frame = pa.table(columns)
    for name in [*names, TIME]:
        frame = frame.filter(pc.is_valid(frame.column(name)))
    unique = frame.group_by([*names, TIME], use_threads=False).aggregate([])
    order = [(k, "ascending") for k in [*names, TIME]]
    return unique.select([*names, TIME]).sort_by(order).cast(snapshot_schema(keys))


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _joined(
    spec: EngineeringSpec,
    keys: Sequence[str],
    tables: Mapping[str, pa.Table],
    snapshots: pa.Table,
) -> pd.DataFrame:
    """One row per snapshot with every point-in-time input as of its time."""
    q = _quoted
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        snaps = snapshots.select([*keys, TIME])
        con.register("snaps", snaps.append_column("_row", pa.array(np.arange(len(snaps)))))
        select = ["s._row", *[f"s.{q(k)}" for k in keys], f"s.{TIME}"]
        joins = []
        for i, (source, spec_in) in enumerate(spec.inputs.items()):
            ts, cols = spec_in.timestamp, list(spec_in.columns)
            table = tables[source].select(list(dict.fromkeys([*keys, ts, *cols])))
            table = table.append_column("_src", pa.array(np.arange(len(table))))
            view = f"in_{i}"
            con.register(view, table)
            alias = f"j{i}"
            select += [f"{alias}.{q(c)} AS {q(spec_in.columns[c])}" for c in cols]
            partition = ", ".join([*(q(k) for k in keys), q(ts)])
            latest = (
                f"(SELECT * FROM {view} WHERE {q(ts)} IS NOT NULL "
                f"QUALIFY row_number() OVER (PARTITION BY {partition} ORDER BY _src DESC) = 1)"
            )
            on = " AND ".join(f"s.{q(k)} = {alias}.{q(k)}" for k in keys)
            joins.append(f"ASOF LEFT JOIN {latest} {alias} ON {on} AND {alias}.{q(ts)} <= s.{TIME}")
        for i, rm in enumerate(spec.running_max):
            view, alias = f"rm_{i}", f"m{i}"
            con.register(view, tables[rm.source].select([*keys, rm.timestamp, rm.column]))
            on = " AND ".join(f"o.{q(k)} = s.{q(k)}" for k in keys)
            joins.append(
                f"LEFT JOIN (SELECT s._row, max(o.{q(rm.column)}) AS {q(rm.output)} FROM snaps s "
                f"JOIN {view} o ON {on} AND o.{q(rm.timestamp)} <= s.{TIME} "
                f"AND o.{q(rm.column)} <= s.{TIME} GROUP BY s._row) {alias} "
                f"ON {alias}._row = s._row"
            )
            select.append(f"{alias}.{q(rm.output)}")
        sql = f"SELECT {', '.join(select)} FROM snaps s {' '.join(joins)} ORDER BY s._row"
        result = con.sql(sql).to_arrow_table()
    mapper = {pa.int64(): pd.Int64Dtype()}.get
    frame: pd.DataFrame = result.to_pandas(types_mapper=mapper)
    return frame


def compute(
    spec: EngineeringSpec,
    keys: Mapping[str, pa.DataType],
    tables: Mapping[str, pa.Table],
    snapshots: pa.Table,
) -> dict[str, pa.Table]:
    """Every engineered view of ``spec``, one row per snapshot row, every value computed as
    of that row's ``event_timestamp``."""
    return features(spec, list(keys), _joined(spec, list(keys), tables, snapshots))


def features(spec: EngineeringSpec, keys: Sequence[str], df: pd.DataFrame) -> dict[str, pa.Table]:
    """The engineered tables from the point-in-time inputs (one row per snapshot: keys,
    event_timestamp, every input column under its node name, every running max). Shared
    by both engines, so pandas/DuckDB and Spark apply the very same feature definitions."""
    functions = functions_of(tuple(spec.modules))
    inputs = {name: df[name] for name in df.columns}
    inputs[TIME_NODE] = df[TIME]
    wanted = [
        f.name for schema in spec.outputs.values() for f in schema if f.name not in (*keys, TIME)
    ]
    values = evaluate(functions, inputs, dict.fromkeys(wanted))
    out = {}
    for name, schema in spec.outputs.items():
        frame = pd.DataFrame(
            {f.name: df[f.name] if f.name in (*keys, TIME) else values[f.name] for f in schema}
        )
        out[name] = pa.Table.from_pandas(
            frame, schema=schema, preserve_index=False
        ).replace_schema_metadata(schema.metadata)
    return out
