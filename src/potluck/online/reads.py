"""Online reads: PII-free, TTL-honest, unknown entities reported per row -- and fast.

Feast's online stores return the latest materialized value however old it is,
while its offline retrieval nulls values older than the view's TTL. potluck
applies the same TTL rule online (relative to the read time), so a model sees
the same feature semantics in training and in serving.

The values are Feast's (``get_online_features``), read faster: the feature
service is resolved once and cached (``_plan``); every view of a batch of
entities is read in one round trip per store (one pipelined HMGET per entity
on Redis, one ``UNION ALL`` statement on SQLite); values are decoded without a
protobuf object per value where possible; on-demand features run through a
verified plain-Python kernel or Feast's own transformation. Reads the fast
path does not cover go through Feast's ``get_online_features`` unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from potluck.errors import RequestError

if TYPE_CHECKING:
    import pyarrow as pa

    from potluck.features.repo import FeatureRepo
    from potluck.online._plan import ReadPlan

__all__ = ["online_features", "online_features_arrow"]

_TS = "__ts"  # Feast's suffix for event timestamps in OnlineResponse.to_dict
FOUND = "_found"


def _check(patient_ids: Sequence[str]) -> None:
    if not patient_ids:
        raise RequestError("no patient ids given")
    bad = [p for p in patient_ids if not isinstance(p, str) or not p]
    if bad:
        raise RequestError(f"patient ids must be non-empty strings: {bad[:5]}")


def _columns(
    repo: FeatureRepo,
    features: str | Sequence[str],
    patient_ids: Sequence[str],
    now: datetime | None,
) -> tuple[list[str], dict[str, list[Any]], list[bool], ReadPlan | None]:
    """(output names, output columns, found flags, plan) for the requested rows."""
    from potluck.online._plan import plan_for

    _check(patient_ids)
    plan = plan_for(repo, features)
    read_at = (now or datetime.now(UTC)).timestamp()
    if plan is None:
        return _feast_columns(repo, features, patient_ids, read_at)
    return _fast_columns(plan, patient_ids, read_at)


def _fast_columns(
    plan: ReadPlan, patient_ids: Sequence[str], read_at: float
) -> tuple[list[str], dict[str, list[Any]], list[bool], ReadPlan]:
    from potluck.online._wire import string_entity_keys

    unique = list(dict.fromkeys(patient_ids))
    reads = plan.reader.read(plan.views, string_entity_keys(plan.join_key, unique))
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
    expired: dict[int, list[int]] = {}  # view -> rows past its TTL, found once per view
    for name, ttl in plan.ttl.items():  # expire only after on-demand inputs were taken
        v = plan.sources[name][0]
        if v not in expired:
            oldest = read_at - ttl
            expired[v] = [i for i, s in enumerate(reads[v].seconds) if s and s < oldest]
        if expired[v]:
            values = columns[name] = list(columns[name])
            for i in expired[v]:
                values[i] = None  # expired: what the offline store would return
    if n != len(patient_ids):  # duplicates in the request: fan the rows back out
        index = {key: i for i, key in enumerate(unique)}
        rows = [index[p] for p in patient_ids]
        columns = {name: [values[i] for i in rows] for name, values in columns.items()}
        found = [found[i] for i in rows]
    return plan.outputs, columns, found, plan


def _feast_columns(
    repo: FeatureRepo, features: str | Sequence[str], patient_ids: Sequence[str], read_at: float
) -> tuple[list[str], dict[str, list[Any]], list[bool], None]:
    """Through Feast's ``get_online_features``: any store, any feature definition."""
    resolved = repo.resolve(features)
    response = repo.store.get_online_features(
        features=resolved.feast_argument, entity_rows=[{"patient_id": p} for p in patient_ids]
    )
    columns = response.to_dict(include_event_timestamps=True)
    names = [
        n for n in columns if n != "patient_id" and not n.endswith(_TS) and n not in resolved.pii
    ]
    found = [False] * len(patient_ids)
    out: dict[str, list[Any]] = {}
    for name in names:
        values = list(columns[name])
        stamps = columns.get(name + _TS)
        if stamps is not None and name not in resolved.on_demand:
            ttl = resolved.ttl_seconds.get(name)
            for i, seen in enumerate(stamps):
                seen = seen or 0
                found[i] = found[i] or seen > 0
                if ttl is not None and seen and read_at - seen > ttl:
                    values[i] = None
        out[name] = values
    return names, out, found, None


def online_features(
    repo: FeatureRepo,
    features: str | Sequence[str],
    patient_ids: Sequence[str],
    *,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """One dict per patient id: feature values plus ``_found`` (any view had a row)."""
    names, columns, found, _ = _columns(repo, features, patient_ids, now)
    keys = ["patient_id", *names, FOUND]
    ordered = [columns[name] for name in names]
    rows = zip(patient_ids, *ordered, found, strict=True)
    return [dict(zip(keys, row, strict=True)) for row in rows]


def online_features_arrow(
    repo: FeatureRepo,
    features: str | Sequence[str],
    patient_ids: Sequence[str],
    *,
    now: datetime | None = None,
) -> pa.Table:
    """:func:`online_features` as an Arrow table: ``patient_id``, the features, ``_found``."""
    import pyarrow as pa

    names, columns, found, plan = _columns(repo, features, patient_ids, now)
    types = _arrow_types(plan) if plan is not None else {}
    arrays = [pa.array(list(patient_ids), pa.string())]
    arrays += [pa.array(columns[name], types.get(name)) for name in names]
    arrays.append(pa.array(found, pa.bool_()))
    return pa.Table.from_arrays(arrays, names=["patient_id", *names, FOUND])


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
