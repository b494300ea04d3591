"""The stream kernel: what one batch of validated events does to the online store.

Pure: given the batch and a :class:`Snapshot` of what the store holds for the batch's
keys (window states, latest event times, producer event ids seen, the window anchors
and the source's watermark), :func:`compute` returns the :class:`Writes` that the
store applies in one transaction together with the log acknowledgement. The
in-process processor and the Spark ``foreachBatch`` both call it, so both write the
same bytes for the same events.

Per event, in order: a producer ``event_id`` already seen (or repeated in the batch)
is a duplicate and skipped; an event older than ``watermark - allowed lateness`` is
dead-lettered as ``late``; every other event folds into its key's window state of each
windowed view (the same form batch materialization writes, late events landing in the
right windows: the batch is sorted once by (key, time) and each key's run of events is
folded with one ``windows.online.update_state_columns`` call, one decode and one encode
of its state per batch) and, when it is the key's newest,
becomes the latest value of each latest-value view (Feast's rule: a row never replaces
one with an event time at or after its own).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from potluck.streams.events import DeadLetter

if TYPE_CHECKING:
    from feast import FeatureView

    from potluck.online.stores.base import ViewLayout
    from potluck.windows.spec import WindowFeature

__all__ = ["Snapshot", "SourcePlan", "Target", "Writes", "compute", "plan_source"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Events further ahead of the processor's clock are `future` dead letters (both engines):
# a mistyped year would otherwise become the watermark and make every later event late.
MAX_AHEAD = timedelta(days=1)


@dataclass(frozen=True)
class Target:
    """One online view fed by the source."""

    name: str
    key_columns: tuple[str, ...]  # source columns holding the join keys
    key_types: Mapping[str, Any]  # join key -> Feast ValueType
    features: tuple[WindowFeature, ...] = ()  # windowed views
    horizon: timedelta = timedelta(0)
    layout: ViewLayout | None = None  # latest-value views
    columns: Mapping[str, str] = field(default_factory=dict)  # feature -> source column

    @property
    def windowed(self) -> bool:
        return bool(self.features)

    @property
    def longest(self) -> timedelta:
        return max(f.window for f in self.features)

    def encode_keys(self, rows: pa.Table) -> list[bytes]:
        from potluck.online._wire import encode_entity_keys

        arrays = {
            k: rows[c].combine_chunks()
            for k, c in zip(self.key_types, self.key_columns, strict=True)
        }
        return encode_entity_keys(arrays, dict(self.key_types)).to_pylist()  # type: ignore[arg-type]


@dataclass(frozen=True)
class SourcePlan:
    source: str
    schema: pa.Schema
    timestamp: str
    key_columns: tuple[str, ...]
    targets: tuple[Target, ...]

    @property
    def windowed(self) -> list[Target]:
        return [t for t in self.targets if t.windowed]

    @property
    def latest(self) -> list[Target]:
        return [t for t in self.targets if not t.windowed]


@dataclass
class Snapshot:
    states: dict[str, dict[bytes, bytes | None]]  # view -> key -> state
    latest: dict[str, dict[bytes, int | None]]  # view -> key -> event time (µs)
    seen: set[str]  # producer event ids already applied
    anchors: dict[str, int]  # windowed view -> anchor (µs)
    watermark: int | None  # newest event time applied (µs)


@dataclass
class Writes:
    states: dict[str, dict[bytes, bytes]] = field(default_factory=dict)
    latest: dict[str, tuple[list[bytes], list[int], pa.Table]] = field(default_factory=dict)
    event_ids: list[str] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    rows: pa.Table | None = None  # the applied events: for the offline table
    watermark: int | None = None
    duplicates: int = 0
    late: int = 0

    @property
    def applied(self) -> int:
        return 0 if self.rows is None else self.rows.num_rows


def micros_of(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(pc.cast(column, pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)


def to_datetime(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=int(us))


def plan_source(
    source: str, schema: pa.Schema, timestamp: str, views: Sequence[FeatureView], config: Any
) -> SourcePlan:
    """The online views of ``views`` whose batch source is ``source``."""
    from potluck.offline.pull import potluck_source
    from potluck.online.stores import layout_of
    from potluck.windows.declare import horizon_of, window_features_of

    targets: list[Target] = []
    keys: tuple[str, ...] = ()
    for view in views:
        try:
            batch = potluck_source(view)
        except Exception:  # not ours
            continue
        if batch.source != source or not view.online:
            continue
        reverse = {feature: column for column, feature in batch.field_mapping.items()}
        key_types = {c.name: c.dtype.to_value_type() for c in view.entity_columns}
        key_columns = tuple(reverse.get(k, k) for k in key_types)
        keys = keys or key_columns
        specs = window_features_of(view)
        if specs:
            targets.append(
                Target(view.name, key_columns, key_types, tuple(specs), horizon_of(view))
            )
        else:
            layout = layout_of(config, view)
            columns = {f: reverse.get(f, f) for f in layout.features}
            targets.append(
                Target(view.name, key_columns, key_types, layout=layout, columns=columns)
            )
    return SourcePlan(source, schema, timestamp, keys, tuple(sorted(targets, key=lambda t: t.name)))


def batch_keys(plan: SourcePlan, rows: pa.Table) -> dict[str, list[bytes]]:
    """View -> encoded entity key of each row (what the snapshot must read). Views keyed
    by the same columns share one list (encoded once)."""
    out: dict[str, list[bytes]] = {}
    done: dict[tuple[Any, ...], list[bytes]] = {}
    for t in plan.targets:
        same = (t.key_columns, tuple(t.key_types.items()))
        if same not in done:
            done[same] = t.encode_keys(rows)
        out[t.name] = done[same]
    return out


def compute(
    plan: SourcePlan,
    rows: pa.Table,
    ids: Sequence[str],
    event_ids: Sequence[str | None],
    keys: Mapping[str, list[bytes]],
    snapshot: Snapshot,
    lateness: timedelta,
    latest_allowed: datetime | None = None,
) -> Writes:
    """The writes of one batch of validated ``rows`` (see the module doc). Events after
    ``latest_allowed`` (the processor's clock plus its tolerance) are dead-lettered as
    ``future``: one mistyped year would otherwise become the watermark, and every later
    event would be late."""

    out = Writes()
    times = micros_of(rows[plan.timestamp])
    keep = np.ones(rows.num_rows, dtype=bool)
    if latest_allowed is not None:
        limit = (latest_allowed - _EPOCH) // timedelta(microseconds=1)
        future = times > limit
        if future.any():
            detail = f"after {latest_allowed} (the processor's clock and its tolerance)"
            for j in np.flatnonzero(future):
                out.dead.append(DeadLetter(ids[int(j)], "future", detail, _row_json(rows, int(j))))
            keep &= ~future
    seen = set(snapshot.seen)
    for i, eid in enumerate(event_ids):
        if eid is None or not keep[i]:
            continue
        if eid in seen:
            keep[i] = False
            out.duplicates += 1
        else:
            seen.add(eid)
            out.event_ids.append(eid)
    if snapshot.watermark is not None:
        floor = snapshot.watermark - lateness // timedelta(microseconds=1)
        late = keep & (times < floor)
        if late.any():
            detail = f"older than the watermark {to_datetime(snapshot.watermark)} - {lateness}"
            for j in np.flatnonzero(late):
                i = int(j)
                out.dead.append(DeadLetter(ids[i], "late", detail, _row_json(rows, i)))
                # a late event's id was not applied: a retry of it is late again
                if event_ids[i] is not None:
                    out.event_ids.remove(event_ids[i])  # type: ignore[arg-type]
            out.late = int(late.sum())
            keep &= ~late
    index = np.flatnonzero(keep)
    good = rows.take(pa.array(index, pa.int64())) if len(index) < rows.num_rows else rows
    out.rows = good
    if not len(index):
        out.watermark = snapshot.watermark
        return out
    newest = int(times[index].max())
    out.watermark = newest if snapshot.watermark is None else max(snapshot.watermark, newest)
    good_times = times[index]
    for target in plan.targets:
        view_keys = (
            keys[target.name]
            if len(index) == rows.num_rows
            else [keys[target.name][i] for i in index]
        )
        if target.windowed:
            out.states[target.name] = _fold_states(
                plan, target, good, good_times, view_keys, snapshot
            )
        else:
            out.latest[target.name] = _latest(target, good, view_keys, good_times, snapshot)
    return out


def _latest(
    target: Target, good: pa.Table, keys: list[bytes], times: np.ndarray, snapshot: Snapshot
) -> tuple[list[bytes], list[int], pa.Table]:
    """Per key, its newest row of the batch (ties: the later row) if newer than the
    stored one; keys in order of first appearance. Vectorized: it ran once per event."""
    encoded = pa.array(keys, pa.binary()).dictionary_encode()  # codes: first appearance
    codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    order = np.lexsort((np.arange(len(codes)), times, codes))
    ends = np.flatnonzero(np.append(codes[order][1:] != codes[order][:-1], True))
    best = order[ends]  # the newest row of each key, keys by code
    best_times = times[best].tolist()
    stored = snapshot.latest.get(target.name, {})
    newer = [
        stored.get(k) is None or t > (stored[k] or 0)
        for k, t in zip(encoded.dictionary.to_pylist(), best_times, strict=True)
    ]
    pick = best[np.asarray(newer, dtype=bool)] if len(best) else best
    picked_keys = encoded.dictionary.take(pa.array(np.flatnonzero(newer), pa.int64())).to_pylist()
    order_array = pa.array(pick, pa.int64())
    assert target.layout is not None
    columns = {f: good[c].take(order_array) for f, c in target.columns.items()}
    for name, column in zip(target.key_types, target.key_columns, strict=True):
        columns[name] = good[column].take(order_array)
    picked_times = times[pick].astype(np.int64)
    columns["event_timestamp"] = pa.array(picked_times, pa.int64()).cast(
        pa.timestamp("us", tz="UTC")
    )
    return picked_keys, picked_times.tolist(), pa.table(columns)


def _fold_states(
    plan: SourcePlan,
    target: Target,
    good: pa.Table,
    times: np.ndarray,
    keys: list[bytes],
    snapshot: Snapshot,
) -> dict[bytes, bytes]:
    """The new state of each key of the batch: the batch sorted once by (key, time) --
    stable, so ties keep input order -- and each key's run of events folded into its
    state in one call (one decode and one encode per key and batch)."""
    from potluck.windows.online import empty_state, update_state_columns

    encoded = pa.array(keys, pa.binary()).dictionary_encode()
    codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    unique = encoded.dictionary.to_pylist()
    order = np.lexsort((times, codes))
    ordered_codes = codes[order]
    starts = [0, *(np.flatnonzero(np.diff(ordered_codes)) + 1).tolist(), len(order)]
    take = pa.array(order, pa.int64())
    names = sorted({c for f in target.features for c in f.columns})
    columns = {}
    for name in names:
        column = good[name] if name in good.column_names else None
        if column is not None and pa.types.is_temporal(column.type):
            column = column.cast(pa.int64())  # the states' form: integer microseconds
        columns[name] = [] if column is None else column.take(take).to_pylist()
    ordered_times = times[order].tolist()
    anchor = to_datetime(snapshot.anchors[target.name])
    stored = snapshot.states[target.name]
    empty = empty_state(target.features, plan.timestamp, anchor, target.horizon)
    written = {}
    for s, e in pairwise(starts):
        key = unique[int(ordered_codes[s])]
        written[key] = update_state_columns(
            stored.get(key) or empty,
            ordered_times[s:e],
            {c: values[s:e] for c, values in columns.items() if values},
            ordered=True,
        )
    return written


def _row_json(rows: pa.Table, i: int) -> bytes:
    from potluck.streams.events import encode_event

    try:
        return encode_event(rows.slice(i, 1).to_pylist()[0])
    except (ValueError, OverflowError, TypeError):  # a value no Python object can hold
        return rows.slice(i, 1).to_string()[:1024].encode(errors="replace")  # Arrow's own text


def key_partitions(
    plan: SourcePlan, keys: dict[str, list[bytes]], most: int
) -> list[np.ndarray] | None:
    """Row indexes of each key partition (every row of a key in one part, rows in batch
    order, the part holding the batch's last row last); None when one part will do."""
    targets = plan.windowed or list(plan.targets)
    if not targets or not keys.get(targets[0].name):
        return None
    target = targets[0]
    encoded = pa.array(keys[target.name], pa.binary()).dictionary_encode()
    count = -(-len(encoded.dictionary) // max(1, most))
    if count <= 1:
        return None
    codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False)) % count
    last = int(codes[-1])
    order = [p for p in range(count) if p != last] + [last]
    parts = [np.flatnonzero(codes == p) for p in order]
    return [p for p in parts if len(p)]
