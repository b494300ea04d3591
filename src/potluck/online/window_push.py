"""Push events online only into window features: fold them into the per-key states.

A windowed view's online form is one state per entity key (:mod:`potluck.windows.online`),
not a row of feature values, so pushing *events* online means folding them into those
states with :func:`~potluck.windows.online.update_state` -- the stream processor's step,
which gives the same bytes as a batch build over old + new events. The events are not
written to the source system (online only, Feast's ``PushMode.ONLINE``): the next batch
materialization, which rebuilds states from the source, forgets them unless they also
reach the source by its own ingestion.

``push_online(repo, "user_activity_push", rows)`` finds the push source's batch source
(a :class:`~potluck.offline.source.PotluckSource` naming a logical event source) and
every windowed view over it. A key without a state gets an empty one anchored at the
view's last materialization end (exact if the key truly had no events before). Events
past a state's horizon are dropped by the state (they belong to the next anchor).
Views whose states a stream processor owns (:mod:`potluck.online.window_states`) refuse
the push (409): their events go through the stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from potluck.errors import NotFoundError, RequestError, StatesOwnedError

if TYPE_CHECKING:
    from feast import FeatureView

    from potluck.features.repo import FeatureRepo

__all__ = ["WindowPush", "push_online"]


@dataclass(frozen=True)
class WindowPush:
    push_source: str
    feature_views: list[str]
    rows: int
    keys: int  # entity keys whose states were updated, summed over views


def _views_over(repo: FeatureRepo, push_source: str) -> tuple[str, list[FeatureView]]:
    from feast.data_source import PushSource

    from potluck.offline.pull import potluck_source
    from potluck.offline.source import PotluckSource
    from potluck.online._windows import windowed_views

    pushes = {s.name: s for s in repo.store.list_data_sources() if isinstance(s, PushSource)}
    source = pushes.get(push_source)
    if source is None:
        known = ", ".join(sorted(pushes)) or "none"
        raise NotFoundError(f"unknown push source '{push_source}' (known: {known})")
    batch = source.batch_source
    if not isinstance(batch, PotluckSource):
        raise NotFoundError(f"push source '{push_source}' has no PotluckSource batch source")
    views = [
        v for v in windowed_views(repo, None).values() if potluck_source(v).source == batch.source
    ]
    if not views:
        raise NotFoundError(f"push source '{push_source}': no windowed view reads '{batch.source}'")
    return batch.source, sorted(views, key=lambda v: v.name)


def _anchor(view: FeatureView, default: datetime) -> datetime:
    intervals = getattr(view, "materialization_intervals", None) or []
    if not intervals:
        return default
    end = max(e for _, e in intervals)
    return end if end.tzinfo else end.replace(tzinfo=UTC)


def _fold(repo: FeatureRepo, view: FeatureView, rows: pa.Table, now: datetime) -> int:
    from potluck.offline.pull import potluck_source
    from potluck.online._windows import _encoded, _keys, _store
    from potluck.windows.declare import horizon_of, window_features_of
    from potluck.windows.online import empty_state, update_state

    specs = window_features_of(view) or []
    source = potluck_source(view)
    types, key_columns = _keys(view)
    needed = [*key_columns, source.timestamp_field, *sorted({c for f in specs for c in f.columns})]
    missing = [c for c in dict.fromkeys(needed) if c not in rows.column_names]
    if missing:
        raise RequestError(f"rows for '{view.name}' lack column(s) {', '.join(missing)}")
    events = rows.select(list(dict.fromkeys(needed)))
    keys = _encoded(
        view, {n: events[c].to_pylist() for n, c in zip(types, key_columns, strict=True)}
    )
    unique = list(dict.fromkeys(keys))
    store = _store(repo)
    current = dict(zip(unique, store.read(view.name, unique), strict=True))
    anchor = _anchor(view, now)
    updated: dict[bytes, bytes] = {}
    positions: dict[bytes, list[int]] = {}
    for i, key in enumerate(keys):
        positions.setdefault(key, []).append(i)
    for key, where in positions.items():
        state = current.get(key) or empty_state(
            specs, source.timestamp_field, anchor, horizon_of(view)
        )
        updated[key] = update_state(state, events.take(pa.array(where, pa.int64())))
    return store.write(view.name, updated)


def push_online(
    repo: FeatureRepo, push_source: str, rows: pa.Table, *, now: datetime | None = None
) -> WindowPush:
    """Fold ``rows`` (events of the push source's logical source) into the window states
    of every windowed view over it; the source system is not written."""
    if rows.num_rows == 0:
        raise RequestError("no rows to push")
    _, views = _views_over(repo, push_source)
    _refuse_owned(repo, views)
    at = now or datetime.now(UTC)
    total = 0
    for view in views:
        ts = _timestamp_column(view)
        if ts in rows.column_names and rows[ts].null_count:
            raise RequestError(f"rows for '{view.name}' have null '{ts}'")
        total += _fold(repo, view, _valid(rows, ts), at)
    return WindowPush(push_source, [v.name for v in views], rows.num_rows, total)


def _refuse_owned(repo: FeatureRepo, views: list[FeatureView]) -> None:
    """States a stream processor owns take events through its stream only: a push would
    read and write them beside the processor's commits, and one of the two would lose
    the other's events. Checked for every view before any is written (and again by
    each write, in its own transaction)."""
    from potluck.online._windows import _store

    store = _store(repo)
    for view in views:
        owner = store.owner(view.name)
        if owner is not None:
            raise StatesOwnedError(view.name, owner)


def _timestamp_column(view: FeatureView) -> str:
    from potluck.offline.pull import potluck_source

    return potluck_source(view).timestamp_field


def _valid(rows: pa.Table, ts: str) -> pa.Table:
    if ts in rows.column_names and not pa.types.is_timestamp(rows[ts].type):
        rows = rows.set_column(
            rows.column_names.index(ts), ts, pc.cast(rows[ts], pa.timestamp("us", tz="UTC"))
        )
    return rows
