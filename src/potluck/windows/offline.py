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

The min/max and distinct structures live in :mod:`potluck.windows.ranges`. Empty-window
values and null handling are those of :mod:`potluck.windows.spec`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from potluck.windows.ranges import distinct_in_ranges, range_reduce
from potluck.windows.spec import Filter, WindowFeature

__all__ = ["compute", "filter_mask", "micros"]

_I64 = np.int64
_LD = np.longdouble  # 64-bit mantissa on x86-64: ~3 more decimal digits for prefix sums


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
        both = (codes >= 0) & (idx >= 0)
        combined = np.where(both, codes * max(len(enc.dictionary), 1) + idx, -1)
        if len(keys) == 1:
            codes = combined  # dictionary indices are dense already
            break
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
            return codes * self.base + (times - self.t0)
        return codes * self.base + np.searchsorted(self.unique, times, "left") + 1

    def query(self, codes: np.ndarray, times: np.ndarray) -> np.ndarray:
        if self.unique is None:
            return codes * self.base + (np.clip(times, self.t0, self.t1) - self.t0)
        return codes * self.base + np.searchsorted(self.unique, times, "right")


def filter_mask(table: pa.Table, filters: Sequence[Filter]) -> np.ndarray:
    """Rows of ``table`` passing every filter (a null never passes but ``is_null``)."""
    mask = np.ones(table.num_rows, dtype=bool)
    for f in filters:
        col = table[f.column]
        if f.op == "is_null":
            res = pc.is_null(col, nan_is_null=True)
        elif f.op == "not_null":
            res = pc.invert(pc.is_null(col, nan_is_null=True))
        elif f.op in ("in", "not_in"):
            res = pc.is_in(col, value_set=pa.array(list(f.value), type=col.type))
            res = pc.invert(res) if f.op == "not_in" else res
            res = pc.if_else(pc.is_null(col), False, res)
        else:
            fn = {"==": "equal", "!=": "not_equal", "<": "less", "<=": "less_equal"}
            fn |= {">": "greater", ">=": "greater_equal"}
            res = pc.call_function(fn[f.op], [col, pa.scalar(f.value, type=col.type)])
        mask &= np.asarray(pc.fill_null(res, False).to_numpy(zero_copy_only=False), bool)
    return mask


def _prefix(x: np.ndarray, dtype: Any) -> np.ndarray:
    out = np.zeros(len(x) + 1, dtype=dtype)
    np.cumsum(x, dtype=dtype, out=out[1:])
    return out


class _Events:
    """Events sorted by (key, time), with per-column caches shared by the features."""

    def __init__(self, table: pa.Table, codes: np.ndarray, times: np.ndarray, n_keys: int) -> None:
        self.table, self.codes, self.times = table, codes, times
        self.n_keys = n_keys  # every key code, also those only entity rows have
        self._cache: dict[Any, Any] = {}

    def cached(self, key: Any, make: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def mask(self, feature: WindowFeature) -> np.ndarray:
        """Events that count for ``feature``: pass its filter and have a value."""

        def make() -> np.ndarray:
            # no filter: every event (the table may have no column left to count rows by:
            # a column-less ``take`` has no rows)
            if not feature.filter:
                m = np.ones(len(self.codes), dtype=bool)
            else:
                m = filter_mask(self.table, feature.filter)
            if feature.column:
                m &= ~np.asarray(
                    pc.is_null(self.table[feature.column], nan_is_null=True).to_numpy(
                        zero_copy_only=False
                    ),
                    bool,
                )
            return m

        return self.cached(("mask", feature.column, feature.filter), make)

    def count_prefix(self, feature: WindowFeature) -> np.ndarray:
        key = ("count", feature.column, feature.filter)
        return self.cached(key, lambda: _prefix(self.mask(feature), _I64))

    def numbers(self, column: str) -> tuple[np.ndarray, pa.DataType]:
        """The column as numpy (nulls as 0) and its Arrow type."""
        col = self.table[column].combine_chunks()
        if pa.types.is_boolean(col.type):
            col = col.cast(pa.int8())
        physical = col
        if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
            physical = col.cast(pa.int64())  # timestamps, dates, durations
        values = pc.fill_null(physical, 0).to_numpy(zero_copy_only=False)
        return np.asarray(values), col.type


def _sum_parts(ev: _Events, f: WindowFeature, lo: np.ndarray, hi: np.ndarray, codes: Any) -> Any:
    """(n, shifted sum, key shift, int sum or None) per row; shared by the sum, mean
    and stddev features of one column, filter and window (the ranges are the window's)."""
    assert f.column
    x, typ = ev.numbers(f.column)
    m = ev.mask(f)

    def shifted() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        xf = np.where(m, x.astype(np.float64), 0.0)
        weights = np.bincount(ev.codes, weights=xf, minlength=ev.n_keys)
        counts = np.bincount(ev.codes, weights=m, minlength=ev.n_keys)
        shift = weights / np.maximum(counts, 1)
        d = np.where(m, xf - shift[ev.codes], 0.0).astype(_LD)
        return d, _prefix(d, _LD), shift

    def parts() -> tuple[Any, ...]:
        n = ev.count_prefix(f)
        _, p1, shift = ev.cached(("shifted", f.column, f.filter), shifted)
        row_shift = np.where(codes >= 0, shift[np.maximum(codes, 0)] if len(shift) else 0.0, 0.0)
        int_sum = None
        if pa.types.is_integer(typ) or pa.types.is_boolean(typ):
            pi = ev.cached(("isum", f.column, f.filter), lambda: _prefix(np.where(m, x, 0), _I64))
            int_sum = pi[hi] - pi[lo]
        return n[hi] - n[lo], p1[hi] - p1[lo], row_shift, int_sum

    return ev.cached(("parts", f.column, f.filter, f.window_us), parts)


def _spread(
    ev: _Events, f: WindowFeature, lo: np.ndarray, hi: np.ndarray, count: np.ndarray, s1: Any
) -> Any:
    """``S2 - S1^2 / n`` of the shifted values per row, with what rounding in the prefix
    sums can leave in it treated as 0 (equal values then give exactly 0 on every engine)."""
    p1 = ev.cached(("shifted", f.column, f.filter), lambda: None)[1]
    p2 = ev.cached(
        ("shifted2", f.column, f.filter),
        lambda: _prefix(
            np.square(ev.cached(("shifted", f.column, f.filter), lambda: None)[0]), _LD
        ),
    )
    s2 = p2[hi] - p2[lo]
    noise = np.abs(p2[hi]) + np.abs(p2[lo])
    noise += (np.abs(p1[hi]) + np.abs(p1[lo])) ** 2 / np.maximum(count, 1)
    noise *= 16 * np.finfo(_LD).eps
    spread = s2 - s1 * s1 / np.maximum(count, 1)
    return np.where(spread <= noise, 0, spread)


def _feature(
    ev: _Events, f: WindowFeature, lo: np.ndarray, hi: np.ndarray, codes: Any, t: Any
) -> pa.Array:
    """One output column: ``f`` over the event ranges ``[lo, hi)``."""
    if f.function == "count":
        c = ev.count_prefix(f)
        return pa.array(c[hi] - c[lo], pa.int64())
    if f.function in ("sum", "mean", "stddev"):
        n, s1, shift, int_sum = _sum_parts(ev, f, lo, hi, codes)
        empty = n == 0
        if f.function == "sum":
            if int_sum is not None:
                return pa.array(int_sum, pa.int64())
            return pa.array(np.where(empty, 0.0, (s1 + n * shift).astype(np.float64)))
        with np.errstate(divide="ignore", invalid="ignore"):
            if f.function == "mean":
                if int_sum is not None:
                    value = int_sum / np.maximum(n, 1)
                else:
                    value = ((s1 + n * shift) / np.maximum(n, 1)).astype(np.float64)
                return pa.array(value, pa.float64(), mask=empty)
            spread = _spread(ev, f, lo, hi, n, s1)
            var = spread / np.maximum(n - 1, 1)
            value = np.sqrt(np.maximum(var, 0).astype(np.float64))
            return pa.array(value, pa.float64(), mask=n < 2)
    assert f.column or f.function == "time_since_last"
    m = ev.mask(f)
    if f.function in ("min", "max"):
        return _min_max(ev, f, lo, hi)
    if f.function == "count_distinct":
        assert f.column
        c = ev.count_prefix(f)

        def prev() -> np.ndarray:
            pos = np.flatnonzero(m)
            values = pc.dictionary_encode(ev.table[f.column].combine_chunks().take(pos))
            v = np.asarray(values.indices.to_numpy(zero_copy_only=False), _I64)
            pair = ev.codes[pos] * max(len(values.dictionary), 1) + v
            order = np.argsort(pair, kind="stable")
            out = np.full(len(pos), -1, dtype=_I64)
            same = pair[order][1:] == pair[order][:-1]
            out[order[1:][same]] = order[:-1][same]
            return out

        p = ev.cached(("prev", f.column, f.filter), prev)
        return pa.array(distinct_in_ranges(p, c[lo], c[hi]), pa.int64())
    # last / time_since_last: the latest qualifying event at or before hi - 1
    latest = ev.cached(
        ("latest", f.column, f.filter),
        lambda: np.maximum.accumulate(np.where(m, np.arange(len(m)), -1)) if len(m) else m,
    )
    idx = latest[np.maximum(hi - 1, 0)] if len(m) else np.full(len(hi), -1)
    ok = (hi > lo) & (idx >= lo)
    if f.function == "last":
        assert f.column
        taken = ev.table[f.column].take(np.where(ok, idx, 0)) if len(m) else None
        if taken is None:
            return pa.nulls(len(hi), ev.table[f.column].type)
        return pc.if_else(pa.array(ok), taken, pa.scalar(None, taken.type)).combine_chunks()
    since = (t - (ev.times[np.where(ok, idx, 0)] if len(m) else 0)) / (
        6e7 if f.unit == "minutes" else 1e6
    )
    return pa.array(np.where(ok, since, 0.0), pa.float64(), mask=~ok)


def _min_max(ev: _Events, f: WindowFeature, lo: np.ndarray, hi: np.ndarray) -> pa.Array:
    assert f.column
    m = ev.mask(f)
    col = ev.table[f.column].combine_chunks()
    numeric = not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type))
    numeric = numeric and not pa.types.is_binary(col.type)
    if numeric:
        x, typ = ev.numbers(f.column)
    else:  # strings: reduce dense ranks, map back through the sorted distinct values
        x = np.asarray(pc.rank(col, tiebreaker="dense").to_numpy(), _I64) - 1
        typ = col.type
    op = np.minimum if f.function == "min" else np.maximum
    if x.dtype.kind == "f":
        fill: Any = np.inf if f.function == "min" else -np.inf
    else:
        info = np.iinfo(x.dtype)
        fill = info.max if f.function == "min" else info.min
    vals = np.where(m, x, fill).astype(x.dtype)
    c = ev.count_prefix(f)
    empty = (c[hi] - c[lo]) == 0
    out = range_reduce(vals, lo, hi, op, fill)
    if not numeric:
        uniq = pc.unique(col.drop_null()).sort()
        return uniq.take(pa.array(np.where(empty, 0, out), mask=empty))
    storage = pa.array(np.where(empty, 0, out), mask=empty)
    if pa.types.is_boolean(ev.table[f.column].type):
        return storage.cast(pa.bool_())
    return storage.cast(typ) if storage.type != typ else storage


def _search(sorted_values: np.ndarray, needles: np.ndarray, order: np.ndarray) -> np.ndarray:
    """``searchsorted(..., "right")`` with the needles taken in ``order`` (sorted, or
    nearly): neighbouring needles then probe neighbouring memory (about 2x faster for
    large random input). Any order gives the same answer; only the speed depends on it."""
    out = np.empty(len(needles), dtype=_I64)
    out[order] = np.searchsorted(sorted_values, needles[order], "right")
    return out


def compute(
    events: pa.Table,
    key_columns: str | Sequence[str],
    timestamp_column: str,
    entity_rows: pa.Table,
    features: Sequence[WindowFeature],
    *,
    entity_timestamp_column: str = "event_timestamp",
) -> pa.Table:
    """``entity_rows`` (same rows, same order) with one column per feature appended.

    ``events`` hold the key columns, ``timestamp_column`` and every column the features
    read; ``entity_rows`` the key columns and ``entity_timestamp_column``. Events with
    a null key or time are ignored; entity rows with one get empty-window values."""
    keys = [key_columns] if isinstance(key_columns, str) else list(key_columns)
    clash = {f.name for f in features} & set(entity_rows.column_names)
    if clash or len({f.name for f in features}) != len(features):
        raise ValueError(f"feature names must be unique and new, clashing: {sorted(clash)}")
    needed = {c for f in features for c in f.columns}
    missing = (needed | set(keys) | {timestamp_column}) - set(events.column_names)
    if missing:
        raise ValueError(f"events lack columns {sorted(missing)}")
    all_codes = _codes(events, entity_rows, keys)
    ev_codes, en_codes = all_codes[: events.num_rows], all_codes[events.num_rows :]
    ev_t, ev_valid = micros(events[timestamp_column])
    en_t, en_valid = micros(entity_rows[entity_timestamp_column])
    keep = np.flatnonzero((ev_codes >= 0) & ev_valid)
    n_keys = int(all_codes.max()) + 1 if len(all_codes) else 1
    ordinal = _Ordinal(ev_t[keep], n_keys)
    composite = ordinal.events(ev_codes[keep], ev_t[keep])
    # Only ``last`` sees the order of events with equal (key, time): its tie rule is
    # "later in input", which needs the stable sort. Every other function is the same
    # in any tie order, and the unstable sort is 1.5-4x faster.
    stable = any(f.function == "last" for f in features)
    order = np.argsort(composite, kind="stable" if stable else "quicksort")
    composite = composite[order]
    rows = keep[order]
    table = events.select(sorted(needed)).take(rows)
    ev = _Events(table, ev_codes[rows], ev_t[rows], n_keys)
    usable = (en_codes >= 0) & en_valid
    at = ordinal.query(en_codes, en_t)
    # (code, t - w) sorts as (code, t) does (a shift within each key, then clipping):
    # one argsort of the query rows serves every window's search
    by_query = np.argsort(at)
    hi = _search(composite, at, by_query)
    hi = np.where(usable, hi, 0)
    out = entity_rows
    lows: dict[int, np.ndarray] = {}  # features sharing a window share its range starts
    for f in features:
        if f.window_us not in lows:
            lo = _search(composite, ordinal.query(en_codes, en_t - f.window_us), by_query)
            lows[f.window_us] = np.where(usable, lo, 0)
        out = out.append_column(f.name, _feature(ev, f, lows[f.window_us], hi, en_codes, en_t))
    return out
