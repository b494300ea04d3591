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

Exactness: sums are kept as exact dyadic rationals (a float is a binary fraction:
``m / 2**k``, integer ``m`` and ``k``; see :mod:`._codec`) so the partial does not
depend on the order events arrive; ``read`` rounds once. The only order-dependent
piece, ``last`` among equal timestamps, follows input order as the offline kernel
does. :func:`update_state` (a stream processor adding events, late ones included)
folds events in with the same step :func:`build_states` uses, so folding old then new
events gives the same bytes as a batch build over old + new.

The state cannot re-anchor: moving ``A`` forward would need the raw events of the
old body. A batch rebuild at least every ``h`` keeps reads exact; :func:`read`
refuses a ``t`` outside ``[A, A + h]`` rather than answer inexactly.

Bytes (format 2, :mod:`._codec`)::

    0x02 | head: zlib JSON, the same bytes | body: canonical JSON | n | n x i64 | columns:
         | for every key of a view+anchor  | feature name ->      | raw   times | f64 / i64
         | (parsed once, cached by bytes)  | partial              | events      | / JSON

Format 1 (zlib JSON with ``Fraction`` sums) is refused with a message to
re-materialize. Online values: numbers, strings and booleans (temporal columns are read
as integer microseconds).
"""

from __future__ import annotations

import json
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from potluck.windows import _codec as codec
from potluck.windows._codec import NAN, Raw, StateFormatError, add, exact, inexact
from potluck.windows._head import Head, compiled, empty_body, new_head, us
from potluck.windows._values import Picked, pick, value
from potluck.windows.offline import micros
from potluck.windows.spec import WindowFeature

__all__ = [
    "DEFAULT_HORIZON",
    "OutOfRange",
    "StateFormatError",
    "build_states",
    "empty_state",
    "read",
    "update_state",
    "update_state_columns",
    "update_state_rows",
]

DEFAULT_HORIZON = timedelta(hours=1)
_VERSION = codec.VERSION
_US = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
Key = tuple[Any, ...]


class OutOfRange(ValueError):
    """A read at a time the state is not exact for (outside ``[A, A + h]``)."""


# --------------------------------------------------------------------------- folding
def _fold_body(body: dict[str, Any], fn: str, t: int, v: Any) -> None:
    """Add one event of a feature's body zone to its partial (order-free but ``last``)."""
    body["n"] += 1
    if fn in ("sum", "mean", "stddev"):
        x = exact(v)
        body["float"] = body.get("float", False) or inexact(v)
        body["s1"] = add(body.get("s1", (0, 0)), x)
        if fn == "stddev":
            body["s2"] = add(body.get("s2", (0, 0)), (x[0] * x[0], 2 * x[1]))
    elif fn in ("min", "max"):
        old = body.get("v")
        body["v"] = v if old is None else (min(old, v) if fn == "min" else max(old, v))
    elif fn == "count_distinct":
        seen = body.get("set")
        if not isinstance(seen, set):
            seen = body["set"] = set(seen or ())
        seen.add(v)
    elif fn in ("last", "time_since_last") and t >= body.get("t", t):
        body["t"], body["v"] = t, v  # ties: the later input wins, as offline


def _dump_body(bodies: dict[str, dict[str, Any]]) -> bytes:
    out = {}
    for name, body in bodies.items():
        if isinstance(body.get("set"), set):
            body = {**body, "set": sorted(body["set"])}
        out[name] = body
    return codec.dump_body(out)


def _fold(
    head: Head, body: bytes, raw: Raw, times: Sequence[int], values: Sequence[Sequence[Any]]
) -> bytes:
    """Fold events (``times`` ascending, ties in input order; ``values`` one sequence per
    head column) into ``body`` and ``raw``; returns the new body bytes."""
    a, h = head.a, head.h
    end = bisect_right(times, a + h)  # later events: the next anchor's build reads them
    split = bisect_right(times, a, 0, end)  # after it: lead zone, raw only
    keep: list[int] = []
    bodies: dict[str, dict[str, Any]] | None = None
    for j in range(split):
        t, needed = times[j], False
        for f in head.features:
            if t <= a - f.w:
                continue
            if t > a - f.w + h:  # the body zone: always inside the window while valid
                if f.counts(values, j):
                    if bodies is None:
                        bodies = json.loads(body)
                    v = values[f.column][j] if f.column >= 0 else None
                    _fold_body(bodies[f.spec.name], f.fn, t, v)  # type: ignore[index]
            else:
                needed = True
        if needed:
            keep.append(j)
    if split < end:
        keep.extend(range(split, end))
    if keep:
        _insert(raw, [times[j] for j in keep], [[col[j] for j in keep] for col in values])
    return body if bodies is None else _dump_body(bodies)


def _insert(raw: Raw, times: list[int], columns: list[list[Any]]) -> None:
    """Merge sorted new raw events in: after existing ones with equal times."""
    append = not raw.t or times[0] >= raw.t[-1]
    spots = [] if append else [bisect_right(raw.t, t) + k for k, t in enumerate(times)]
    if append:
        raw.t.extend(times)
    else:
        for at, t in zip(spots, times, strict=True):
            raw.t.insert(at, t)
    for c, new in enumerate(columns):
        new = [codec.clean(v) for v in new]
        old, kind = raw.kinds[c], codec.merge(raw.kinds[c], codec.kind_of(new))
        raw.values[c] = codec.convert(raw.values[c], old, kind)
        raw.kinds[c] = kind
        if kind == "f":
            new = [NAN if v is None else v for v in new]
        if append:
            raw.values[c].extend(new)
        else:
            for at, v in zip(spots, new, strict=True):
                raw.values[c].insert(at, v)


def _sorted(times: Sequence[int], values: Sequence[Sequence[Any]]) -> tuple[list[int], list[Any]]:
    if all(times[i] <= times[i + 1] for i in range(len(times) - 1)):
        return list(times), list(values)
    order = sorted(range(len(times)), key=times.__getitem__)  # stable: ties keep input order
    return [times[i] for i in order], [[col[i] for i in order] for col in values]


def _events(
    table: pa.Table, timestamp_column: str, columns: Sequence[str]
) -> tuple[list[int], dict[str, list[Any]]]:
    """(times in µs, ``columns`` as lists) in (time, input) order; null times dropped."""
    times, valid = micros(table[timestamp_column])
    order = pc.sort_indices(
        pa.table({"t": times, "i": range(len(times))}), [("t", "ascending"), ("i", "ascending")]
    )
    keep = [i for i in order.to_pylist() if valid[i]]
    take = pa.array(keep, pa.int64())
    cols = {}
    for c in columns:
        col = table[c]
        if pa.types.is_temporal(col.type):
            col = col.cast(pa.int64())
        cols[c] = col.take(take).to_pylist()
    return [int(times[i]) for i in keep], cols


# --------------------------------------------------------------------------- public API
def empty_state(
    features: Sequence[WindowFeature],
    timestamp_column: str,
    as_of: datetime,
    horizon: timedelta = DEFAULT_HORIZON,
) -> bytes:
    """The state of a key with no events yet (a stream processor's starting point)."""
    head = new_head(features, timestamp_column, as_of, horizon)
    empty = Raw([], [[] for _ in head.columns], ["n"] * len(head.columns))
    return codec.pack(head.bytes, empty_body(head), empty)


def update_state_columns(
    state: bytes,
    times: Sequence[int],
    columns: Mapping[str, Sequence[Any]],
    *,
    ordered: bool = False,
) -> bytes:
    """``state`` with events folded in: ``times`` in microseconds, ``columns`` holding the
    state's columns (temporal ones as integer microseconds; a missing one reads null).
    ``ordered``: the times are already ascending (ties in input order). The stream
    processor's path: one decode and one encode per key and batch."""
    head_bytes = codec.head_of(state)
    head = compiled(head_bytes)
    if not times:
        return state
    n = len(times)
    values = [columns.get(c) or [None] * n for c in head.columns]
    if not ordered:
        times, values = _sorted(times, values)
    if times[0] > head.a:  # all in the lead zone: raw events only, maybe just appended
        end = bisect_right(times, head.a + head.h)
        if not end:
            return state
        fast = codec.append(
            state, len(head.columns), list(times[:end]), [list(v[:end]) for v in values]
        )
        if fast is not None:
            return fast
    _, body, raw = codec.unpack(state, len(head.columns))
    body = _fold(head, body, raw, times, values)
    return codec.pack(head_bytes, body, raw)


def update_state(state: bytes, new_events: pa.Table | Sequence[Mapping[str, Any]]) -> bytes:
    """``state`` with ``new_events`` (one key's, any order, late ones too) folded in."""
    head = compiled(codec.head_of(state))
    table = (
        new_events if isinstance(new_events, pa.Table) else pa.Table.from_pylist(list(new_events))
    )
    if not table.num_rows:
        return update_state_columns(state, [], {})
    wanted = [c for c in head.columns if c in table.column_names]
    times, columns = _events(table, head.ts, wanted)
    return update_state_columns(state, times, columns, ordered=True)


def update_state_rows(
    state: bytes, times: Sequence[int], rows: Sequence[Mapping[str, Any]]
) -> bytes:
    """:func:`update_state_columns` for events given as rows (dicts), in input order."""
    head = compiled(codec.head_of(state))
    columns = {c: [r.get(c) for r in rows] for c in head.columns}
    return update_state_columns(state, times, columns)


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
    head = new_head(features, timestamp_column, as_of, horizon)
    times, cols = _events(events, timestamp_column, list(dict.fromkeys([*keys, *head.columns])))
    groups: dict[Key, list[int]] = {}
    key_values = [cols[k] for k in keys]
    for i, key in enumerate(zip(*key_values, strict=True)):
        if not any(k is None for k in key):
            groups.setdefault(key, []).append(i)
    empty = empty_body(head)
    out = {}
    for key, rows in groups.items():
        raw = Raw([], [[] for _ in head.columns], ["n"] * len(head.columns))
        values = [[cols[c][i] for i in rows] for c in head.columns]
        body = _fold(head, empty, raw, [times[i] for i in rows], values)
        out[key] = codec.pack(head.bytes, body, raw)
    return out


def read(
    state: bytes, t: datetime, features: Sequence[WindowFeature] | None = None
) -> dict[str, Any]:
    """Feature name -> value at request time ``t`` (``A <= t <= A + h``)."""
    head = compiled(codec.head_of(state))
    now, a, h = us(t), head.a, head.h
    if not a <= now <= a + h:
        first, last = (_EPOCH + _US * x for x in (a, a + h))
        raise OutOfRange(f"state is exact for {first} <= t <= {last}, not {t}: rebuild it")
    wanted = head.select(features)
    _, body, raw = codec.unpack(state, len(head.columns))
    bodies = json.loads(body)
    picks: dict[Any, Picked] = {}
    out = {}
    for f in wanted:
        picked = picks.get(f.pick)
        if picked is None:
            picked = picks[f.pick] = Picked(pick(f, raw, a, h, now))
        out[f.spec.name] = value(f, bodies[f.spec.name], picked, now)
    return out
