"""A brute-force, obviously-correct model of Feast's point-in-time join.

This is the oracle the federated offline store is checked against. It is
deliberately naive -- a nested loop over plain Python dicts, no sorting, no
indexes, no SQL -- so that it can be read and trusted line by line:

For each entity row ``(keys, t)`` and each feature view, the candidates are the
feature rows whose join keys equal the entity row's keys and whose event time
``e`` satisfies ``e <= t`` and, if the view has a TTL, ``e >= t - ttl``. The
winner is the candidate with the largest ``(event time, created time)`` pair
(a missing created time loses to any present one); its feature values are the
answer. No candidate: every feature of the view is null. Every entity row comes
back exactly once, in its original order, duplicates included.

The module also holds the comparison helpers the tests share (null-aware,
value-for-value equality of a DataFrame against the oracle's rows).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

__all__ = [
    "RefView",
    "assert_rows_equal",
    "frame_records",
    "is_null",
    "plain",
    "point_in_time",
    "values_equal",
]


@dataclass(frozen=True)
class RefView:
    """One feature view as the oracle sees it.

    ``rows`` are dicts holding the join keys (under their entity-frame names),
    ``event_ts``, optionally ``created_ts``, and the features.
    """

    name: str
    keys: tuple[str, ...]
    features: tuple[str, ...]
    rows: Sequence[Mapping[str, Any]] = field(default_factory=list)
    ttl: timedelta | None = None
    event_ts: str = "event_ts"
    created_ts: str | None = "created_ts"

    def output(self, feature: str, full_feature_names: bool) -> str:
        return f"{self.name}__{feature}" if full_feature_names else feature


def is_null(value: Any) -> bool:
    """None, NaN, pd.NA and NaT are all 'no value'."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _rank(view: RefView, row: Mapping[str, Any]) -> tuple[datetime, int, datetime | None]:
    # (event time, has created, created): a present created time beats a missing one.
    created = row.get(view.created_ts) if view.created_ts else None
    return (row[view.event_ts], 0 if created is None else 1, created)


def _best_row(
    view: RefView, entity_row: Mapping[str, Any], t: datetime
) -> Mapping[str, Any] | None:
    best: Mapping[str, Any] | None = None
    for row in view.rows:
        if any(is_null(entity_row[k]) or is_null(row[k]) for k in view.keys):
            continue
        if any(row[k] != entity_row[k] for k in view.keys):
            continue
        event = row[view.event_ts]
        if event is None or event > t:
            continue
        if view.ttl is not None and event < t - view.ttl:
            continue
        if best is None or _rank(view, row) > _rank(view, best):
            best = row
    return best


def point_in_time(
    entity_rows: Sequence[Mapping[str, Any]],
    views: Sequence[RefView],
    *,
    timestamp_column: str = "event_timestamp",
    full_feature_names: bool = False,
) -> list[dict[str, Any]]:
    """The expected training set: entity columns then every view's features."""
    result = []
    for entity_row in entity_rows:
        t = entity_row[timestamp_column]
        out = dict(entity_row)
        for view in views:
            best = _best_row(view, entity_row, t)
            for feature in view.features:
                out[view.output(feature, full_feature_names)] = (
                    None if best is None else best[feature]
                )
        result.append(out)
    return result


def plain(values: Any) -> list[Any]:
    """A column as a list with every kind of null turned into None (safe to ``==``)."""
    return [None if is_null(v) else v for v in values]


def values_equal(left: Any, right: Any) -> bool:
    """Null-aware equality: all nulls are equal; numbers compare by value (1 == 1.0)."""
    if is_null(left) or is_null(right):
        return is_null(left) and is_null(right)
    if isinstance(left, pd.Timestamp):
        left = left.to_pydatetime()
    if isinstance(right, pd.Timestamp):
        right = right.to_pydatetime()
    return bool(left == right)


def frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A DataFrame as plain dict rows (numpy scalars turned into Python values)."""
    records = []
    for row in frame.astype(object).to_dict(orient="records"):
        records.append({k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()})
    return records


def assert_rows_equal(
    actual: Sequence[Mapping[str, Any]],
    expected: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
) -> None:
    """Same length and, row by row in order, the same value in every column."""
    assert len(actual) == len(expected), f"{len(actual)} rows returned, {len(expected)} expected"
    for i, (got, want) in enumerate(zip(actual, expected, strict=True)):
        for column in columns:
            assert values_equal(got[column], want[column]), (
                f"row {i}, column {column!r}: got {got[column]!r}, expected {want[column]!r}\n"
                f"  returned row: {dict(got)}\n  expected row: {dict(want)}"
            )
