"""Window features online: materialize their states and evaluate them at read time.

Materialization anchors every key's state at the run's end ``A`` with the view's
horizon ``h`` (:func:`potluck.windows.online.build_states` over the events of
``(A - longest window, A]``). A read at time ``t`` with ``A <= t <= A + h`` returns
exactly the training-set value for ``t``; outside that range the value is reported
``expired`` (materialize, or run the stream processor, at least every ``h``).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from potluck.connectors import ReadRequest
from potluck.errors import StatesOwnedError
from potluck.online._source import TS
from potluck.online.stores.base import layout_of
from potluck.windows.declare import horizon_of, window_features_of

if TYPE_CHECKING:
    from feast import FeatureView

    from potluck.features.repo import FeatureRepo
    from potluck.online._state import ViewProgress
    from potluck.online.stores.base import OnlineWriter
    from potluck.online.window_states import WindowStateStore

__all__ = ["materialize_windows", "read_windows", "windowed_views"]

_STORES: weakref.WeakKeyDictionary[Any, WindowStateStore] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()
# id(view) -> (view, its keys): registry views are cached objects, reused read after read
_KEYS: dict[int, tuple[Any, tuple[dict[str, Any], list[str]]]] = {}


def _store(repo: FeatureRepo) -> WindowStateStore:
    from potluck.online.window_states import open_state_store

    with _LOCK:
        store = _STORES.get(repo)
        if store is None:
            store = _STORES[repo] = open_state_store(repo.config)
        return store


def _keys(view: FeatureView) -> tuple[dict[str, Any], list[str]]:
    """(join key -> Feast value type, the source columns holding them)."""
    cached = _KEYS.get(id(view))
    if cached is not None and cached[0] is view:
        return cached[1]
    from potluck.offline.pull import potluck_source

    source = potluck_source(view)
    reverse = {feature: column for column, feature in source.field_mapping.items()}
    types = {c.name: c.dtype.to_value_type() for c in view.entity_columns}
    out = types, [reverse.get(k, k) for k in types]
    _KEYS[id(view)] = (view, out)
    return out


def _encoded(view: FeatureView, columns: Mapping[str, Sequence[Any]]) -> list[bytes]:
    from feast.value_type import ValueType

    from potluck.online._wire import encode_entity_keys, int_entity_keys, string_entity_keys

    types, _ = _keys(view)
    if len(types) == 1:  # the read path's usual case: no Arrow round trip for a few keys
        ((name, kind),) = types.items()
        if kind == ValueType.STRING:
            return string_entity_keys(name, [str(v) for v in columns[name]])
        if kind == ValueType.INT64 and len(columns[name]) < 64:
            return int_entity_keys(name, [int(v) for v in columns[name]])
    arrays = {k: pa.array(list(columns[k]), _arrow(types[k])) for k in types}
    return [b.as_py() for b in encode_entity_keys(arrays, types)]


def _arrow(value_type: Any) -> pa.DataType:
    from feast.type_map import feast_value_type_to_pa

    return feast_value_type_to_pa(value_type)


def materialize_windows(
    repo: FeatureRepo,
    view: FeatureView,
    progress: ViewProgress,
    writer: OnlineWriter | None = None,
) -> int:
    """Build and store the states of every key with events in the longest window; with
    a ``writer``, also each such key's values *at the anchor* in Feast's own online
    table of the view, so Feast's SDK, ``feast serve`` and UI read the window values
    of that moment (potluck's reads evaluate the states at any time in the horizon).

    States a stream processor owns are left alone (``progress.owner`` says whose; see
    :mod:`potluck.online.window_states`): the processor re-anchors them itself, from the
    offline table *and* its outbox, and commits to them meanwhile."""
    from potluck.offline.pull import potluck_source, read_source
    from potluck.windows.online import build_states

    config = repo.config
    specs = window_features_of(view) or []
    source = potluck_source(view)
    types, key_columns = _keys(view)
    needed = sorted({c for f in specs for c in f.columns})
    longest = max(f.window for f in specs)
    events = read_source(
        config,
        source,
        ReadRequest(
            table=source.table,
            columns=list(dict.fromkeys([*key_columns, source.timestamp_field, *needed])),
            timestamp_column=source.timestamp_field,
            start=progress.end - longest,
            end=progress.end,
        ),
    )
    states = build_states(
        events, key_columns, source.timestamp_field, specs, progress.end, horizon_of(view)
    )
    names = list(types)
    columns = {n: [key[i] for key in states] for i, n in enumerate(names)}
    encoded = _encoded(view, columns) if states else []
    try:
        written = _store(repo).write(view.name, dict(zip(encoded, states.values(), strict=True)))
    except StatesOwnedError as owned:
        progress.owner, written = owned.owner, 0
    if writer is not None and states:
        at_anchor = _values_at(
            view, events, key_columns, source.timestamp_field, progress.end, states
        )
        writer.write(layout_of(config, view), at_anchor, TS, None)
    progress.done = {0: written}
    repo.store.registry.apply_materialization(view, config.project, progress.start, progress.end)
    return written


def _values_at(
    view: FeatureView,
    events: pa.Table,
    key_columns: list[str],
    timestamp: str,
    at: datetime,
    keys: Mapping[tuple[Any, ...], Any],
) -> pa.Table:
    """Every key's window values at ``at`` (the offline kernel: the same values the
    states read at ``at``), as Feast's online rows: join keys, ``TS``, features."""
    from feast.type_map import feast_value_type_to_pa

    from potluck.windows.offline import compute

    specs = window_features_of(view) or []
    types, _ = _keys(view)
    entity = {
        c: pa.array([k[i] for k in keys], events.schema.field(c).type)
        for i, c in enumerate(key_columns)
    }
    entity["event_timestamp"] = pa.array([at] * len(keys), pa.timestamp("us", "UTC"))
    values = compute(events, key_columns, timestamp, pa.table(entity), specs)
    columns: dict[str, pa.Array] = {
        name: values[column].combine_chunks()
        for name, column in zip(types, key_columns, strict=True)
    }
    columns[TS] = values["event_timestamp"].combine_chunks()
    for field in view.features:
        columns[field.name] = (
            values[field.name]
            .cast(feast_value_type_to_pa(field.dtype.to_value_type()))
            .combine_chunks()
        )
    return pa.table(columns)


def windowed_views(repo: FeatureRepo, refs: Sequence[str] | None) -> dict[str, FeatureView]:
    """The windowed views among ``refs``' views (every one for None; registry cache)."""
    names = None if refs is None else {r.split(":", 1)[0] for r in refs}
    out = {}
    for view in repo.store.registry.list_feature_views(repo.config.project, allow_cache=True):
        if (names is None or view.name in names) and window_features_of(view) is not None:
            out[view.name] = view
    return out


_SPECS: dict[tuple[str, str, tuple[str, ...]], list[Any]] = {}
_EMPTY: dict[str, Any] = {"count": 0, "count_distinct": 0, "sum": 0}


def _wanted(view: FeatureView, names: Sequence[str]) -> list[Any]:
    """The specs of ``names`` (decoded once per view definition)."""
    from potluck.windows.declare import WINDOWS_TAG

    key = (view.name, view.tags.get(WINDOWS_TAG, ""), tuple(names))
    hit = _SPECS.get(key)
    if hit is None:
        specs = {f.name: f for f in window_features_of(view) or []}
        hit = _SPECS[key] = [specs[n] for n in names]
    return hit


def read_windows(
    repo: FeatureRepo,
    view: FeatureView,
    names: Sequence[str],
    entities: Mapping[str, Sequence[Any]],
    at: datetime,
) -> tuple[dict[str, list[Any]], list[bool], list[bool]]:
    """(name -> values, found per row, stale per row) of window features at time ``at``."""
    from potluck.windows.online import OutOfRange, read

    wanted = _wanted(view, names)
    types, _ = _keys(view)
    missing = [k for k in types if k not in entities]
    if missing:
        from potluck.errors import RequestError

        raise RequestError(f"view '{view.name}' needs entity key(s) {', '.join(missing)}")
    n = len(next(iter(entities.values())))
    keys = _encoded(view, {k: entities[k] for k in types})
    unique = list(dict.fromkeys(keys))
    blobs = dict(zip(unique, _store(repo).read(view.name, unique), strict=True))
    # A key without a state had no event in the longest window: its values are the
    # empty-window values the training set gives (count 0, sum 0, the rest null).
    values: dict[str, list[Any]] = {f.name: [_EMPTY.get(f.function)] * n for f in wanted}
    found, stale = [False] * n, [False] * n
    cache: dict[bytes, dict[str, Any] | None] = {}
    for i, key in enumerate(keys):
        blob = blobs.get(key)
        if blob is None:
            continue
        found[i] = True
        if key not in cache:
            try:
                cache[key] = read(blob, at, wanted)
            except OutOfRange:  # outside [A, A + h]: not exact any more
                cache[key] = None
        got = cache[key]
        if got is None:
            stale[i] = True
            for f in wanted:
                values[f.name][i] = None
            continue
        for f in wanted:
            values[f.name][i] = got[f.name]
    return values, found, stale
