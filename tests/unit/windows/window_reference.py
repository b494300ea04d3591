"""Brute-force reference for window features: plain Python loops, one row at a time.

Deliberately naive (scan every event for every entity row) so it shares no code or
idea with the kernel: filter, window test, null handling and each function are
written straight from the rule in :mod:`potluck.windows.spec`."""

from __future__ import annotations

import math
import operator
import statistics
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from potluck.windows.spec import Filter, WindowFeature

__all__ = ["is_null", "passes", "reference", "values_match"]

_OPS = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def is_null(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def passes(event: dict[str, Any], filters: Sequence[Filter]) -> bool:
    for f in filters:
        value = event[f.column]
        if f.op == "is_null":
            ok = is_null(value)
        elif f.op == "not_null":
            ok = not is_null(value)
        elif is_null(value):
            ok = False
        elif f.op == "in":
            ok = value in f.value
        elif f.op == "not_in":
            ok = value not in f.value
        else:
            ok = _OPS[f.op](value, f.value)
        if not ok:
            return False
    return True


def _utc(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _one(f: WindowFeature, t: datetime, chosen: list[dict[str, Any]], ts: str) -> Any:
    with_value = chosen if f.column is None else [e for e in chosen if not is_null(e[f.column])]
    values = [e[f.column] for e in with_value] if f.column else []
    if f.function == "count":
        return len(with_value)
    if f.function == "count_distinct":
        return len(set(values))
    if f.function == "sum":
        if values and all(isinstance(v, int) for v in values):
            return sum(values)
        return math.fsum(values) if values else 0
    if not with_value:
        return None
    if f.function == "mean":
        return math.fsum(values) / len(values)
    if f.function == "min":
        return min(values)
    if f.function == "max":
        return max(values)
    if f.function == "stddev":
        return statistics.stdev(values) if len(values) >= 2 else None
    latest = with_value[-1]  # chosen is in (time, input order)
    if f.function == "last":
        return latest[f.column]
    seconds = (t - _utc(latest[ts])) / timedelta(microseconds=1) / 1e6
    return seconds / 60 if f.unit == "minutes" else seconds


def reference(
    events: list[dict[str, Any]],
    keys: Sequence[str],
    ts: str,
    rows: list[dict[str, Any]],
    features: Sequence[WindowFeature],
    entity_ts: str = "event_timestamp",
) -> list[dict[str, Any]]:
    """One dict per entity row: feature name -> value, by scanning every event."""
    out = []
    for row in rows:
        result: dict[str, Any] = {}
        t = row[entity_ts]
        for f in features:
            chosen = []
            if t is not None and all(row[k] is not None for k in keys):
                t = _utc(t)
                for e in events:
                    if e[ts] is None or any(e[k] != row[k] for k in keys):
                        continue
                    if t - f.window < _utc(e[ts]) <= t and passes(e, f.filter):
                        chosen.append(e)
            chosen.sort(key=lambda e: _utc(e[ts]))  # stable: ties keep input order
            result[f.name] = _one(f, t, chosen, ts) if t is not None else _one(f, t, [], ts)
        out.append(result)
    return out


def values_match(expected: Any, actual: Any, scale: float = 1.0) -> bool:
    """Equal, both null, or floats within 1e-9 relative (and 1e-9 * scale absolute:
    prefix sums cancel, so their error scales with the magnitudes involved)."""
    if is_null(expected) or is_null(actual):
        return is_null(expected) and is_null(actual)
    if isinstance(expected, float) or isinstance(actual, float):
        return math.isclose(expected, actual, rel_tol=1e-9, abs_tol=1e-9 * max(scale, 1.0))
    return bool(expected == actual)
