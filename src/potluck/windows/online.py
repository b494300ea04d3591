"""The online form: one compact, serializable state per entity key, exact on read.

A state is anchored at ``A`` (the materialization time) with a horizon ``h``: it
answers :func:`read` exactly -- the value :func:`~potluck.windows.offline.compute`
gives over the same events -- at any request time ``t`` with ``A <= t <= A + h``.
For each feature with window ``w`` the time axis splits in three zones::

     time ───────────────────────────────────────────────────────────────────►
            A - w      A - w + h                               A        A + h
              │   edge    │               body                 │  lead    │
              (───────────](───────────────────────────────────](─────────]
                raw events       ONE exact partial aggregate      raw events
                                 (n, sums, min/max, distinct
                                  set, latest event)
     a read at t in [A, A + h] sees the window (t - w, t]:
                       (─────────────────────────────────────────────────]
                     t - w                                               t
     = raw edge events after t - w  +  the body partial  +  raw lead events <= t

Whatever ``t`` in ``[A, A + h]``, the body lies wholly inside the window, so one
partial stands for it; only the trailing edge (which ``t - w`` crosses) and the
leading zone (which ``t`` crosses) need each event's time. Raw events are stored once
per key (time + the columns the features read) and serve every feature whose edge or
lead holds them; a raw event inside a feature's body zone is counted by the body, not
again. Events at or before ``A - max(w)`` or after ``A + h`` are dropped (the next
anchor's batch build reads them from the offline store).

Exactness: sums are kept as exact rationals (a float is a binary fraction) so the
partial does not depend on the order events arrive; ``read`` rounds once. The only
order-dependent piece, ``last`` among equal timestamps, follows input order as the
offline kernel does. :func:`update_state` (a stream processor adding events, late ones
included) folds events in with the same step :func:`build_states` uses, so folding
old then new events gives the same bytes as a batch build over old + new.

The state cannot re-anchor: moving ``A`` forward would need the raw events of the
old body. A batch rebuild at least every ``h`` keeps reads exact; :func:`read`
refuses a ``t`` outside ``[A, A + h]`` rather than answer inexactly.

Bytes: zlib-compressed canonical JSON (sorted keys) of the anchor, the feature
definitions, the raw events and the partials. Online values: numbers, strings and
booleans (temporal columns are read as integer microseconds).
"""

from __future__ import annotations

import bisect
import copy
import json
import math
import operator
import zlib
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from potluck.windows.offline import micros
from potluck.windows.spec import Filter, WindowFeature

__all__ = [
    "DEFAULT_HORIZON",
    "build_states",
    "empty_state",
    "read",
    "update_state",
    "update_state_rows",
]

DEFAULT_HORIZON = timedelta(hours=1)
_VERSION = 1
_US = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CMP: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
Key = tuple[Any, ...]
State = dict[str, Any]


def _us(t: datetime) -> int:
    return ((t if t.tzinfo else t.replace(tzinfo=UTC)) - _EPOCH) // _US


def _null(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _passes(row: Mapping[str, Any], filters: Sequence[Filter]) -> bool:
    for f in filters:
        v = row.get(f.column)
        if f.op in ("is_null", "not_null"):
            ok = _null(v) == (f.op == "is_null")
        elif _null(v):
            ok = False
        elif f.op in ("in", "not_in"):
            ok = (v in f.value) == (f.op == "in")
        else:
            ok = _CMP[f.op](v, f.value)
        if not ok:
            return False
    return True


def _counts(f: WindowFeature, row: Mapping[str, Any]) -> bool:
    """Does this event count for ``f``: passes the filter, has a value if one is read."""
    return _passes(row, f.filter) and (f.column is None or not _null(row.get(f.column)))


# --------------------------------------------------------------------------- state shape
def _spec(f: WindowFeature) -> list[Any]:
    filters = [
        [x.column, x.op, list(x.value) if x.op in ("in", "not_in") else x.value] for x in f.filter
    ]
    return [f.name, f.column, f.function, f.window_us, filters, f.unit]


def _feature(spec: list[Any]) -> WindowFeature:
    name, column, function, window_us, filters, unit = spec
    window = timedelta(microseconds=window_us)
    return WindowFeature(name, column, function, window, tuple(Filter(*x) for x in filters), unit)


def _new(
    features: Sequence[WindowFeature], timestamp_column: str, as_of: datetime, horizon: timedelta
) -> State:
    if horizon <= timedelta(0):
        raise ValueError("horizon must be positive")
    columns = sorted({c for f in features for c in f.columns})
    return {
        "v": _VERSION,
        "ts": timestamp_column,
        "as_of": _us(as_of),
        "h": horizon // _US,
        "features": [_spec(f) for f in features],
        "raw": {"t": [], **{c: [] for c in columns}},
        "body": {f.name: {"n": 0} for f in features},
    }


def _dump(state: State) -> bytes:
    """Canonical bytes: exact sums as [numerator, denominator], sets as sorted lists."""
    bodies = {}
    for name, body in state["body"].items():
        body = dict(body)
        for field in ("s1", "s2"):
            if field in body:
                body[field] = [body[field].numerator, body[field].denominator]
        if "set" in body:
            body["set"] = sorted(body["set"])
        bodies[name] = body
    text = json.dumps({**state, "body": bodies}, sort_keys=True, separators=(",", ":"))
    return zlib.compress(text.encode(), 6)


def _load(blob: bytes) -> State:
    """The in-memory form of :func:`_dump`'s bytes (Fractions and sets back)."""
    state: State = json.loads(zlib.decompress(blob))
    if state.get("v") != _VERSION:
        raise ValueError(f"unknown window state version {state.get('v')!r}")
    for body in state["body"].values():
        for field in ("s1", "s2"):
            if field in body:
                body[field] = Fraction(*body[field])
        if "set" in body:
            body["set"] = set(body["set"])
    return state


# --------------------------------------------------------------------------- folding
def _fold_body(body: dict[str, Any], f: WindowFeature, t: int, v: Any) -> None:
    """Add one event of ``f``'s body zone to its partial (order-free but ``last``)."""
    body["n"] += 1
    fn = f.function
    if fn in ("sum", "mean", "stddev"):
        x = Fraction(v)
        body["float"] = body.get("float", False) or isinstance(v, float)
        body["s1"] = body.get("s1", Fraction(0)) + x
        if fn == "stddev":
            body["s2"] = body.get("s2", Fraction(0)) + x * x
    elif fn in ("min", "max"):
        old = body.get("v")
        body["v"] = v if old is None else (min(old, v) if fn == "min" else max(old, v))
    elif fn == "count_distinct":
        body.setdefault("set", set()).add(v)
    elif fn in ("last", "time_since_last") and t >= body.get("t", t):
        body["t"], body["v"] = t, v  # ties: the later input wins, as offline


def _fold(state: State, features: Sequence[WindowFeature], t: int, row: Mapping[str, Any]) -> None:
    """Add one event (``t`` in microseconds, ``row`` its columns) to ``state``."""
    a, h = state["as_of"], state["h"]
    if t > a + h:
        return
    raw_needed = t > a
    for f in features:
        w = f.window_us
        if t <= a - w or t > a:
            continue
        if t > a - w + h:  # the body zone: always inside the window while the state is valid
            if _counts(f, row):
                _fold_body(state["body"][f.name], f, t, row.get(f.column) if f.column else None)
        else:
            raw_needed = True
    if raw_needed:
        raw = state["raw"]
        at = bisect.bisect_right(raw["t"], t)  # after equal times: input order
        raw["t"].insert(at, t)
        for column, values in raw.items():
            if column != "t":
                values.insert(at, _clean(row.get(column)))


def _clean(v: Any) -> Any:
    return None if _null(v) else v


def _events(
    table: pa.Table, timestamp_column: str, columns: Sequence[str]
) -> tuple[list[int], list[dict[str, Any]]]:
    """(times in µs, rows of ``columns``) in (time, input) order; null times dropped."""
    times, valid = micros(table[timestamp_column])
    order = pc.sort_indices(
        pa.table({"t": times, "i": range(len(times))}), [("t", "ascending"), ("i", "ascending")]
    )
    keep = [i for i in order.to_pylist() if valid[i]]
    cols = {}
    for c in columns:
        col = table[c]
        if pa.types.is_temporal(col.type):
            col = col.cast(pa.int64())
        cols[c] = col.take(pa.array(keep, pa.int64())).to_pylist()
    rows = [{c: cols[c][j] for c in columns} for j in range(len(keep))]
    return [int(times[i]) for i in keep], rows


# --------------------------------------------------------------------------- public API
def empty_state(
    features: Sequence[WindowFeature],
    timestamp_column: str,
    as_of: datetime,
    horizon: timedelta = DEFAULT_HORIZON,
) -> bytes:
    """The state of a key with no events yet (a stream processor's starting point)."""
    return _dump(_new(features, timestamp_column, as_of, horizon))


def update_state(state: bytes, new_events: pa.Table | Sequence[Mapping[str, Any]]) -> bytes:
    """``state`` with ``new_events`` (one key's, any order, late ones too) folded in."""
    s = _load(state)
    table = (
        new_events if isinstance(new_events, pa.Table) else pa.Table.from_pylist(list(new_events))
    )
    if not table.num_rows:
        return _dump(s)  # canonical JSON: the bytes given
    columns = [c for c in s["raw"] if c != "t"]
    times, rows = _events(table, s["ts"], [c for c in columns if c in table.column_names])
    features = [_feature(spec) for spec in s["features"]]
    for t, row in zip(times, rows, strict=True):
        _fold(s, features, t, row)
    return _dump(s)


_SPECS: dict[str, list[WindowFeature]] = {}


def update_state_rows(
    state: bytes, times: Sequence[int], rows: Sequence[Mapping[str, Any]]
) -> bytes:
    """:func:`update_state` for events already decoded (a stream processor's fast path):
    ``times`` in microseconds, ``rows`` holding the state's columns (temporal ones as
    integer microseconds), in input order. Same bytes as :func:`update_state`."""
    s = _load(state)
    if not times:
        return _dump(s)
    key = repr(s["features"])
    features = _SPECS.get(key)
    if features is None:
        features = _SPECS[key] = [_feature(spec) for spec in s["features"]]
    for i in sorted(range(len(times)), key=times.__getitem__):  # stable: ties keep input order
        _fold(s, features, times[i], rows[i])
    return _dump(s)


def build_states(
    events: pa.Table,
    key_columns: str | Sequence[str],
    timestamp_column: str,
    features: Sequence[WindowFeature],
    as_of: datetime,
    horizon: timedelta = DEFAULT_HORIZON,
) -> dict[Key, bytes]:
    """Key tuple -> state bytes, for every key with an event (null keys ignored)."""
    keys = [key_columns] if isinstance(key_columns, str) else list(key_columns)
    template = _new(features, timestamp_column, as_of, horizon)
    columns = [c for c in template["raw"] if c != "t"]
    times, rows = _events(events, timestamp_column, [*keys, *columns])
    states: dict[Key, State] = {}
    for t, row in zip(times, rows, strict=True):
        key = tuple(row[k] for k in keys)
        if any(k is None for k in key):
            continue
        if key not in states:
            states[key] = copy.deepcopy(template)
        _fold(states[key], features, t, row)
    return {key: _dump(s) for key, s in states.items()}


def read(
    state: bytes, t: datetime, features: Sequence[WindowFeature] | None = None
) -> dict[str, Any]:
    """Feature name -> value at request time ``t`` (``A <= t <= A + h``)."""
    s = _load(state)
    now, a, h = _us(t), s["as_of"], s["h"]
    if not a <= now <= a + h:
        lo, hi = (_EPOCH + _US * x for x in (a, a + h))
        raise ValueError(f"state is exact for {lo} <= t <= {hi}, not {t}: rebuild it")
    known = {spec[0]: _feature(spec) for spec in s["features"]}
    wanted = list(known.values()) if features is None else list(features)
    for f in wanted:
        if known.get(f.name) != f:
            raise ValueError(f"feature {f.name!r} is not in this state as declared")
    raw = s["raw"]
    out = {}
    for f in wanted:
        w = f.window_us
        lo = bisect.bisect_right(raw["t"], now - w)
        hi = bisect.bisect_right(raw["t"], now)
        picked = []
        for i in range(lo, hi):
            ti = raw["t"][i]
            if a - w + h < ti <= a:
                continue  # in the body zone: already in the partial
            row = {c: raw[c][i] for c in raw if c != "t"}
            if _counts(f, row):
                picked.append((ti, row.get(f.column) if f.column else None))
        out[f.name] = _value(f, s["body"][f.name], picked, now)
    return out


def _value(f: WindowFeature, body: dict[str, Any], picked: list[tuple[int, Any]], now: int) -> Any:
    """Combine the body partial and the raw events of the window (in time order)."""
    n = body["n"] + len(picked)
    fn = f.function
    values = [v for _, v in picked]
    if fn == "count":
        return n
    if fn == "count_distinct":
        return len(set(body.get("set", [])) | set(values))
    if fn in ("sum", "mean", "stddev"):
        is_float = body.get("float", False) or any(isinstance(v, float) for v in values)
        s1 = body.get("s1", Fraction(0)) + sum((Fraction(v) for v in values), Fraction(0))
        if fn == "sum":
            return float(s1) if is_float else int(s1)
        if fn == "mean":
            return float(s1 / n) if n else None
        if n < 2:
            return None
        s2 = body.get("s2", Fraction(0)) + sum((Fraction(v) ** 2 for v in values), Fraction(0))
        return math.sqrt(float((n * s2 - s1 * s1) / (n * (n - 1))))
    if not n:
        return None
    if fn in ("min", "max"):
        pool = values + ([body["v"]] if body["n"] else [])
        return min(pool) if fn == "min" else max(pool)
    # last / time_since_last: raw events after the body beat it, raw ones before lose
    later = [(ti, v) for ti, v in picked if body["n"] == 0 or ti > body["t"]]
    ti, v = later[-1] if later else (body["t"], body["v"])
    if fn == "last":
        return v
    return (now - ti) / (6e7 if f.unit == "minutes" else 1e6)
