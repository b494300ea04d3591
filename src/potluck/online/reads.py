"""Online reads: PII-free, TTL-honest, unknown entities and stale values reported per row
-- and fast.

Feast's online stores return the latest materialized value however old it is,
while its offline retrieval nulls values older than the view's TTL. potluck
applies the same TTL rule online (relative to the read time), so a model sees
the same feature semantics in training and in serving.

Entities are given as columns, one per join key (``{"customer_id": [...]}`` or a
composite ``{"user_id": [...], "item_id": [...]}``); :func:`entity_columns` turns a
list of ids into that form for an entity of the deployment. Each output row
carries ``_found`` (any view had a row), ``_missing`` (features with no value),
``_expired`` (features nulled by their view's TTL) and ``_status``: ``ok``,
``partial`` (some missing or expired) or ``unknown_entity``.

The values are Feast's (``get_online_features``), read faster: the feature
service is resolved once and cached (``_plan``); every view of a batch of
entities is read in one round trip per store; values are decoded without a
protobuf object per value where possible; on-demand features run through a
verified plain-Python kernel or Feast's own transformation. Reads the fast path
does not cover (composite keys, renamed projections) go through Feast's
``get_online_features`` unchanged.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from time import monotonic
from typing import TYPE_CHECKING, Any

from potluck.errors import RequestError
from potluck.online._entities import entity_columns

if TYPE_CHECKING:
    import pyarrow as pa

    from potluck.features.repo import FeatureRepo
    from potluck.online._late import LateView
    from potluck.online._plan import ReadPlan

__all__ = [
    "FOUND",
    "STATUS",
    "Read",
    "entity_columns",
    "online_features",
    "online_features_arrow",
    "read_columns",
    "resolved_features",
]

_TS = "__ts"  # Feast's suffix for event timestamps in OnlineResponse.to_dict
FOUND = "_found"
MISSING = "_missing"
EXPIRED = "_expired"
STATUS = "_status"
Entities = Mapping[str, Sequence[Any]]
# Columns per join key, or plain ids of the features' single join key.
EntityArg = Entities | Sequence[Any]
_SPLIT_TTL_S = 60.0  # resolved keys and window splits are trusted this long (registry cache)


# (repo) -> (features) -> (what a derivation made of the resolved features, when)
_DERIVED: weakref.WeakKeyDictionary[Any, dict[Any, tuple[Any, float]]] = weakref.WeakKeyDictionary()


def _cached(repo: FeatureRepo, features: str | Sequence[str], what: str, make: Any) -> Any:
    """``make(resolved)`` for these features, kept one registry cache period like the
    plans; the features are resolved once per period for every derivation of them."""
    key = features if isinstance(features, str) else tuple(features)
    entry = _DERIVED.get(repo)  # (every read passes here: the common case first)
    if entry is None:
        entry = _DERIVED.setdefault(repo, {})
    now = monotonic()
    resolved = entry.get((key, "resolved"))
    if resolved is None or now - resolved[1] >= _SPLIT_TTL_S:
        resolved = entry[(key, "resolved")] = (repo.resolve(features), now)
    hit = entry.get((key, what))
    if hit is None or hit[1] != resolved[1]:
        hit = entry[(key, what)] = (make(resolved[0]), resolved[1])
    return hit[0]


def resolved_features(repo: FeatureRepo, features: str | Sequence[str]) -> Any:
    """``repo.resolve(features)``, kept one registry cache period (as the reads keep it):
    the per-request paths (predictions) resolve once per period, not per call."""
    return _cached(repo, features, "as_resolved", lambda resolved: resolved)


def _join_keys(repo: FeatureRepo, features: str | Sequence[str]) -> list[str]:
    """The features' join keys."""
    return _cached(repo, features, "keys", lambda resolved: sorted(resolved.join_keys))  # type: ignore[no-any-return]


def _as_columns(repo: FeatureRepo, features: str | Sequence[str], entities: EntityArg) -> Entities:
    if isinstance(entities, Mapping):
        return entities
    if isinstance(entities, str | bytes):
        raise RequestError("entity ids must be a list")
    keys = _join_keys(repo, features)
    if len(keys) != 1:
        raise RequestError(
            f"these features are keyed by {', '.join(keys) or 'no key'}: give entity key columns"
        )
    return {keys[0]: list(entities)}


def _check(entities: Entities) -> int:
    if not entities:
        raise RequestError("no entity keys given")
    lengths = {len(v) for v in entities.values()}
    if len(lengths) != 1 or 0 in lengths:
        raise RequestError("entity key columns must be non-empty and of equal length")
    for name, values in entities.items():
        bad = [v for v in values if v is None or (isinstance(v, str) and not v)]
        if bad:
            raise RequestError(f"entity key '{name}' has empty values")
    return lengths.pop()


# (plain refs, windowed view -> feature names, output order, late on-demand views, the
# join keys of the views read)
Split = tuple[list[str], dict[Any, list[str]], list[str], list["LateView"], frozenset[str]]


def _split(repo: FeatureRepo, features: str | Sequence[str]) -> Split | None:
    """For features with window views: (other refs, window view -> names, output order,
    late on-demand views); None when there is no window feature (cached like the read
    plans). On-demand views over window features or request data are *late*
    (:mod:`._late`): their inputs join the reads, as hidden features."""
    return _cached(repo, features, "split", lambda resolved: _split_of(repo, resolved))  # type: ignore[no-any-return]


def _split_of(repo: FeatureRepo, resolved: Any) -> Split | None:
    from potluck.online._late import key_names, late_views
    from potluck.online._windows import windowed_views

    every = set(windowed_views(repo, None))
    late = late_views(repo, resolved, every) if every else {}
    refs = [r for r in resolved.refs if r.partition(":")[0] not in late]
    refs += [r for view in late.values() for r in view.refs if r not in refs]
    windowed = windowed_views(repo, refs)
    split = None
    if windowed:
        groups: dict[Any, list[str]] = {}
        plain = []
        for ref in refs:
            view, _, name = ref.partition(":")
            if view in windowed:
                groups.setdefault(windowed[view], []).append(name)
            else:
                plain.append(ref)
        order = [n for n in resolved.names if n not in resolved.pii]
        names = key_names(repo, [*plain, *(f"{v.name}:" for v in groups)])
        split = (plain, groups, order, list(late.values()), names)
    return split


@dataclass
class Read:
    """One read: output names and columns, whether any view had each row, the rows
    nulled by TTL per feature, and the event time (epoch seconds, 0: no row) of each
    stored feature's value -- on-demand features have none."""

    names: list[str]
    columns: dict[str, list[Any]]
    found: list[bool]
    expired: dict[str, set[int]]
    seconds: dict[str, Sequence[float]]
    plan: ReadPlan | None = None

    def __iter__(self) -> Iterator[Any]:
        """Unpacks as the former tuple: names, columns, found, expired, plan."""
        return iter((self.names, self.columns, self.found, self.expired, self.plan))


def read_columns(
    repo: FeatureRepo,
    features: str | Sequence[str],
    entities: Entities,
    now: datetime | None = None,
    *,
    apply_ttl: bool = True,
) -> Read:
    """The read behind every online path. ``apply_ttl=False`` is Feast's rule: values
    however old (``_expired`` stays empty); only the Feast-protocol endpoint offers it.
    Window features are evaluated at the read time (their own exactness rule applies)."""
    if not entities:
        raise RequestError("no entity ids given")
    n = _check(entities)
    split = _split(repo, features)
    if split is None:
        return _plain_columns(repo, features, entities, now, apply_ttl)
    from potluck.online._late import key_columns
    from potluck.online._windows import read_windows

    plain, groups, order, late, names = split
    at = now or datetime.now(UTC)
    read = Read([], {}, [False] * n, {}, {})
    keys = key_columns(repo, entities, plain, names)
    if plain:
        read = _plain_columns(repo, plain, keys, at, apply_ttl)
    for view, wanted in groups.items():
        values, seen, stale = read_windows(repo, view, wanted, entities, at)
        read.columns.update(values)
        read.found = [a or b for a, b in zip(read.found, seen, strict=True)]
        old = {i for i, s in enumerate(stale) if s}
        if old:
            read.expired.update({name: set(old) for name in wanted})
    for late_view in late:
        values, gone = late_view.apply(read.columns, entities, list(keys), read.found, read.expired)
        read.columns.update(values)
        read.expired.update({name: gone for name in late_view.outputs if gone})
    read.names = [name for name in order if name in read.columns]
    read.plan = None
    return read


def _plain_columns(
    repo: FeatureRepo,
    features: str | Sequence[str],
    entities: Entities,
    now: datetime | None,
    apply_ttl: bool,
) -> Read:
    from potluck.online._plan import plan_for

    plan = plan_for(repo, features)
    read_at = (now or datetime.now(UTC)).timestamp() if apply_ttl else None
    if plan is not None and set(entities) == {plan.join_key}:
        return _fast_columns(plan, entities[plan.join_key], read_at)
    return _feast_columns(repo, features, entities, read_at)


def _fast_columns(plan: ReadPlan, ids: Sequence[Any], read_at: float | None) -> Read:
    from feast.value_type import ValueType

    from potluck.online._wire import int_entity_keys, string_entity_keys

    unique = list(dict.fromkeys(ids))
    if plan.join_key_type == ValueType.INT64:
        encoded = int_entity_keys(plan.join_key, [int(v) for v in unique])
    else:
        encoded = string_entity_keys(plan.join_key, [str(v) for v in unique])
    reads = plan.reader.read(plan.views, encoded)
    n = len(unique)
    found = [False] * n
    for v in plan.found_views:
        seconds = reads[v].seconds
        found = [f or s > 0 for f, s in zip(found, seconds, strict=True)]
    columns: dict[str, list[Any]] = {
        name: decode.column(reads[v].values[name]) for name, (v, decode) in plan.sources.items()
    }
    if plan.on_demand:
        raw = dict(columns)
        for name, (v, decode) in plan.hidden.items():
            raw[name] = decode.column(reads[v].values[name])
        for step in plan.on_demand:
            columns.update(step.apply(raw, plan.join_key, unique))
    expired_rows: dict[int, list[int]] = {}  # view -> rows past its TTL, found once per view
    expired: dict[str, set[int]] = {}
    stamps: dict[str, Sequence[float]] = {
        name: reads[v].seconds for name, (v, _) in plan.sources.items()
    }
    ttls = plan.ttl.items() if read_at is not None else ()
    for name, ttl in ttls:  # expire only after on-demand inputs were taken
        v = plan.sources[name][0]
        if v not in expired_rows:
            oldest = (read_at or 0.0) - ttl
            expired_rows[v] = [i for i, s in enumerate(reads[v].seconds) if s and s < oldest]
        if expired_rows[v]:
            values = columns[name] = list(columns[name])
            for i in expired_rows[v]:
                values[i] = None  # expired: what the offline store would return
            expired[name] = set(expired_rows[v])
    if n != len(ids):  # duplicates in the request: fan the rows back out
        index = {key: i for i, key in enumerate(unique)}
        rows = [index[p] for p in ids]
        columns = {name: [values[i] for i in rows] for name, values in columns.items()}
        found = [found[i] for i in rows]
        expired = {
            name: {j for j, i in enumerate(rows) if i in hit} for name, hit in expired.items()
        }
        stamps = {name: [values[i] for i in rows] for name, values in stamps.items()}
    return Read(plan.outputs, columns, found, expired, stamps, plan)


def _feast_columns(
    repo: FeatureRepo, features: str | Sequence[str], entities: Entities, read_at: float | None
) -> Read:
    """Through Feast's ``get_online_features``: any store, any key, any feature definition."""
    resolved = repo.resolve(features)
    keys = list(entities)
    n = len(entities[keys[0]])
    rows = [{k: entities[k][i] for k in keys} for i in range(n)]
    response = repo.store.get_online_features(features=resolved.feast_argument, entity_rows=rows)
    columns = response.to_dict(include_event_timestamps=True)
    names = [c for c in columns if c not in keys and not c.endswith(_TS) and c not in resolved.pii]
    found = [False] * n
    out: dict[str, list[Any]] = {}
    expired: dict[str, set[int]] = {}
    seconds: dict[str, Sequence[float]] = {}
    for name in names:
        values = list(columns[name])
        stamps = columns.get(name + _TS)
        if stamps is not None and name not in resolved.on_demand:
            ttl = resolved.ttl_seconds.get(name) if read_at is not None else None
            seconds[name] = stamped = [float(seen or 0) for seen in stamps]
            for i, seen in enumerate(stamped):
                found[i] = found[i] or seen > 0
                if ttl is not None and read_at is not None and seen and read_at - seen > ttl:
                    values[i] = None
                    expired.setdefault(name, set()).add(i)
        out[name] = values
    return Read(names, out, found, expired, seconds)


def _row_status(
    names: Sequence[str],
    columns: Mapping[str, list[Any]],
    found: bool,
    expired: Mapping[str, set[int]],
    i: int,
) -> tuple[str, list[str], list[str]]:
    if not found:
        return "unknown_entity", [], []
    gone = [n for n in names if i in expired.get(n, ())]
    missing = [n for n in names if columns[n][i] is None and n not in gone]
    return ("partial" if gone or missing else "ok"), missing, gone


def online_features(
    repo: FeatureRepo,
    features: str | Sequence[str],
    entities: EntityArg,
    *,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """One dict per entity row: its keys, feature values, ``_found``, ``_missing``,
    ``_expired`` and ``_status`` (see the module docstring)."""
    entities = _as_columns(repo, features, entities)
    read = read_columns(repo, features, entities, now)
    names, columns, found, expired = read.names, read.columns, read.found, read.expired
    keys = list(entities)
    out = []
    for i in range(len(found)):
        row: dict[str, Any] = {k: entities[k][i] for k in keys}
        for name in names:
            row[name] = columns[name][i]
        status, missing, gone = _row_status(names, columns, found[i], expired, i)
        row.update({FOUND: found[i], MISSING: missing, EXPIRED: gone, STATUS: status})
        out.append(row)
    return out


def online_features_arrow(
    repo: FeatureRepo,
    features: str | Sequence[str],
    entities: EntityArg,
    *,
    now: datetime | None = None,
) -> pa.Table:
    """:func:`online_features` as an Arrow table: the keys, the features, ``_found``."""
    import pyarrow as pa

    entities = _as_columns(repo, features, entities)
    read = read_columns(repo, features, entities, now)
    names, columns, found, plan = read.names, read.columns, read.found, read.plan
    types = _arrow_types(plan) if plan is not None else {}
    keys = list(entities)
    arrays = [pa.array(list(entities[k])) for k in keys]
    arrays += [pa.array(columns[name], types.get(name)) for name in names]
    arrays.append(pa.array(found, pa.bool_()))
    return pa.Table.from_arrays(arrays, names=[*keys, *names, FOUND])


def _arrow_types(plan: ReadPlan) -> dict[str, pa.DataType]:
    from feast.type_map import feast_value_type_to_pa

    types = {}
    for layout, names in plan.views:
        for name in names:
            try:
                types[name] = feast_value_type_to_pa(layout.features[name])
            except (KeyError, ValueError, NotImplementedError):
                continue  # left to Arrow's inference
    for step in plan.on_demand:
        for f in step.view.features:
            try:
                types[f.name] = feast_value_type_to_pa(f.dtype.to_value_type())
            except (KeyError, ValueError, NotImplementedError):
                continue
    return types
