"""The offline kernel: exact point-in-time window features for a whole entity frame.

Every entity row ``(key, t)`` and window ``w`` becomes a half-open range ``[lo, hi)``
of positions in the events sorted by ``(key, time)`` (stable: equal timestamps keep
input order): ``hi`` counts the events with ``(key, time) <= (key, t)`` and ``lo``
those with ``(key, time) <= (key, t - w)``, so the range holds exactly the key's
events with ``t - w < time <= t``. Both come from one global ``np.searchsorted`` on an
int64 ``key_code * B + time_offset`` ordering -- O((E + N) log E) in all, no loop over
keys or rows. Each function is then answered over the ranges:

* count / sum / mean / stddev: prefix sums (``P[hi] - P[lo]``). Integer sums use int64
  prefix sums (differences are exact even if the running total wraps); float sums and
  stddev use long-double prefix sums of values shifted by their key's mean, so the
  running total stays near zero and the ``S2 - S1^2/n`` cancellation is small.
* min / max: per-block prefix/suffix reductions plus a sparse table over block
  reductions (O(E) memory instead of a full sparse table's O(E log E)); ranges inside
  one block are reduced by a vectorized scan of at most one block.
* count_distinct: ``prev[i]`` = previous position of the same (key, value); distinct
  values in ``[a, b)`` = #{i in [a, b): prev[i] < a} = #{i < b: prev[i] < a} - a,
  counted offline with a merge-sort tree built and queried one level at a time.
* last / time_since_last: the latest qualifying position ``<= hi - 1`` (a running
  maximum of qualifying indices), if it is ``>= lo``.

Memory: after the one sort, the events are kept as their sorted ordinals and input
positions only (two int64 per event); the per-function arrays above (masks, prefix
sums, long-double shifts) are built for one *part* of about :data:`PART_EVENTS` events
(whole keys) at a time, with the entity rows of those keys, so they do not grow with the
input. The per-function answers live in :mod:`potluck.windows._answers`, the min/max
and distinct structures in :mod:`potluck.windows.ranges`. Empty-window values and null
handling are those of :mod:`potluck.windows.spec`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from potluck.windows._answers import Events, feature_column, filter_mask
from potluck.windows.spec import WindowFeature

__all__ = ["compute", "filter_mask", "micros"]

_I64 = np.int64
# Events per part: the per-feature work (prefix sums, long-double shifts, gathers) runs
# over one part at a time, so its memory is bounded by the part, not the whole input.
PART_EVENTS = 1 << 21


def micros(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(int64 microseconds since the epoch, validity). Naive timestamps count as UTC."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_date(arr.type) or pa.types.is_null(arr.type):
        arr = arr.cast(pa.timestamp("us"))
    if not pa.types.is_timestamp(arr.type):
        raise ValueError(f"expected a timestamp column, got {arr.type}")
    arr = arr.cast(pa.timestamp("us", arr.type.tz), safe=False)  # ns -> us truncates
    valid = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    values = np.asarray(pc.fill_null(arr.cast(pa.int64()), 0).to_numpy(), dtype=_I64)
    return values, valid


def _codes(events: pa.Table, entity: pa.Table, keys: Sequence[str]) -> np.ndarray:
    """Dense codes of the (composite) key over events then entity rows; -1 if null."""
    codes = np.zeros(events.num_rows + entity.num_rows, dtype=_I64)
    for name in keys:
        a, b = events[name].combine_chunks(), entity[name].combine_chunks()
        if a.type != b.type:
            b = b.cast(a.type)
        enc = pc.dictionary_encode(pa.concat_arrays([a, b]))
        idx = np.asarray(pc.fill_null(enc.indices.cast(pa.int64()), -1).to_numpy(), _I64)
        if len(keys) == 1:
            return idx  # dictionary indices are dense already; -1 marks a null key
        both = (codes >= 0) & (idx >= 0)
        combined = np.where(both, codes * max(len(enc.dictionary), 1) + idx, -1)
        # re-densify so the next key column's product cannot overflow
        _, dense = np.unique(combined, return_inverse=True)
        codes = np.where(both, dense.reshape(-1) - int((combined < 0).any()), -1).astype(_I64)
    return codes


class _Ordinal:
    """Maps (key code, time) to one sortable int64: ``code * base + offset(time)``.

    Offsets are microseconds above the earliest event when ``codes * span`` fits in
    int64, else ranks among the distinct event times. Query times are clipped to the
    events' span, which changes no count."""

    def __init__(self, times: np.ndarray, codes: int) -> None:
        lo, hi = (int(times.min()), int(times.max())) if len(times) else (0, 0)
        self.unique: np.ndarray | None = None
        self.t0, self.t1, self.base = lo - 1, hi, hi - lo + 2
        if codes * self.base >= 2**62:
            self.unique = np.unique(times)
            self.base = len(self.unique) + 1

    def events(self, codes: np.ndarray, times: np.ndarray) -> np.ndarray:
        if self.unique is None:
            out = codes * self.base  # in place from here: no E-sized temporaries
            out += times
            out -= self.t0
            return out
        return codes * self.base + np.searchsorted(self.unique, times, "left") + 1

    def split(self, composite: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(codes, times) back from :meth:`events`' values (the offset is in [1, base))."""
        codes, offset = np.divmod(composite, self.base)
        if self.unique is None:
            return codes, offset + self.t0
        return codes, self.unique[offset - 1]

    def query(self, codes: np.ndarray, times: np.ndarray) -> np.ndarray:
        if self.unique is None:
            return codes * self.base + (np.clip(times, self.t0, self.t1) - self.t0)
        return codes * self.base + np.searchsorted(self.unique, times, "right")


def compute(
    events: pa.Table,
    key_columns: str | Sequence[str],
    timestamp_column: str,
    entity_rows: pa.Table,
    features: Sequence[WindowFeature],
    *,
    entity_timestamp_column: str = "event_timestamp",
    part_events: int = PART_EVENTS,
) -> pa.Table:
    """``entity_rows`` (same rows, same order) with one column per feature appended.

    ``events`` hold the key columns, ``timestamp_column`` and every column the features
    read; ``entity_rows`` the key columns and ``entity_timestamp_column``. Events with
    a null key or time are ignored; entity rows with one get empty-window values.
    The work runs over parts of about ``part_events`` events (whole keys each)."""
    keys = [key_columns] if isinstance(key_columns, str) else list(key_columns)
    clash = {f.name for f in features} & set(entity_rows.column_names)
    if clash or len({f.name for f in features}) != len(features):
        raise ValueError(f"feature names must be unique and new, clashing: {sorted(clash)}")
    needed = {c for f in features for c in f.columns}
    missing = (needed | set(keys) | {timestamp_column}) - set(events.column_names)
    if missing:
        raise ValueError(f"events lack columns {sorted(missing)}")
    all_codes = _codes(events, entity_rows, keys)
    n_keys = int(all_codes.max()) + 1 if len(all_codes) else 1
    ev_codes, en_codes = all_codes[: events.num_rows], all_codes[events.num_rows :].copy()
    ev_t, ev_valid = micros(events[timestamp_column])
    en_t, en_valid = micros(entity_rows[entity_timestamp_column])
    ev_valid &= ev_codes >= 0
    keep = None if ev_valid.all() else np.flatnonzero(ev_valid)
    if keep is not None:
        ev_codes, ev_t = ev_codes[keep], ev_t[keep]
    ordinal = _Ordinal(ev_t, n_keys)
    composite = ordinal.events(ev_codes, ev_t)
    # Memory: from here on the events are their sorted ordinals (codes and times come
    # back from them per part) and their input positions; nothing else of size E.
    del all_codes, ev_codes, ev_t, ev_valid
    # Only ``last`` sees the order of events with equal (key, time): its tie rule is
    # "later in input", which needs the stable sort. Every other function is the same
    # in any tie order, and the unstable sort is 1.5-4x faster.
    stable = any(f.function == "last" for f in features)
    rows = np.argsort(composite, kind="stable" if stable else "quicksort")
    composite = composite[rows]
    if keep is not None:
        rows = keep[rows]
    del keep
    usable = (en_codes >= 0) & en_valid
    # one contiguous copy of the needed columns: a take from a chunked table costs ~20x
    # (per part, at every part) what it costs from a contiguous one
    source = events.select(sorted(needed)).combine_chunks()
    columns: dict[str, list[pa.Array]] = {f.name: [] for f in features}
    placed: list[np.ndarray] = []
    for first, last, a, b in _parts(composite, ordinal, n_keys, part_events):
        mine = np.flatnonzero(usable & (en_codes >= first) & (en_codes < last))
        if first == 0:  # unusable rows ride with the first part, over an empty range
            mine = np.concatenate([np.flatnonzero(~usable), mine])
        # the part's rows in (key, time) order: every range lookup below then walks the
        # part's arrays forward instead of jumping at random (the final take restores
        # the input order)
        mine = mine[np.argsort(ordinal.query(en_codes[mine], en_t[mine]), kind="stable")]
        part_codes, part_times = ordinal.split(composite[a:b])
        part = Events(source.take(rows[a:b]), part_codes - first, part_times, last - first)
        codes = np.where(usable[mine], en_codes[mine] - first, -1)
        answers = _answer(
            part, composite[a:b], ordinal, codes, en_codes[mine], en_t[mine], features
        )
        for name, column in answers.items():
            columns[name].append(column)
        placed.append(mine)
    where = np.concatenate(placed) if placed else np.zeros(0, _I64)
    back = np.empty(len(where), dtype=_I64)
    back[where] = np.arange(len(where))  # each entity row's position among the parts'
    out = entity_rows
    for f in features:
        joined = pa.concat_arrays(columns[f.name]) if columns[f.name] else pa.array([])
        out = out.append_column(f.name, joined.take(pa.array(back)))
    return out


def _parts(
    composite: np.ndarray, ordinal: _Ordinal, n_keys: int, size: int
) -> list[tuple[int, int, int, int]]:
    """(first code, end code, first event, end event) of parts of about ``size`` events
    holding whole keys, covering the codes ``[0, n_keys)``."""
    cuts = [0]
    for at in range(size, len(composite), size):
        code = int(composite[at]) // ordinal.base
        if code > cuts[-1]:
            cuts.append(code)
    cuts.append(n_keys)
    # a key's events start after ordinal code * base (their offsets are >= 1)
    bounds = np.searchsorted(composite, np.asarray(cuts, dtype=_I64) * ordinal.base, "left")
    return [
        (cuts[i], cuts[i + 1], int(bounds[i]), int(bounds[i + 1])) for i in range(len(cuts) - 1)
    ]


def _answer(
    part: Events,
    composite: np.ndarray,
    ordinal: _Ordinal,
    codes: np.ndarray,
    global_codes: np.ndarray,
    t: np.ndarray,
    features: Sequence[WindowFeature],
) -> dict[str, pa.Array]:
    """Every feature for the entity rows of one part (``codes`` local, -1: unusable),
    given in (key, time) order: ``(code, t - w)`` then sorts the same way (a shift within
    each key, then clipping), so every window's search probes memory in order."""
    usable = codes >= 0
    hi = np.where(usable, np.searchsorted(composite, ordinal.query(global_codes, t), "right"), 0)
    lows: dict[int, np.ndarray] = {}  # features sharing a window share its range starts
    out = {}
    for f in features:
        if f.window_us not in lows:
            starts = ordinal.query(global_codes, t - f.window_us)
            lows[f.window_us] = np.where(usable, np.searchsorted(composite, starts, "right"), 0)
        out[f.name] = feature_column(part, f, lows[f.window_us], hi, codes, t)
    return out
