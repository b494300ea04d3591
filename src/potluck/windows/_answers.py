"""The per-function answers of the offline kernel over event ranges ``[lo, hi)``.

:class:`Events` holds one part of the events sorted by (key, time) with caches shared
by the features; :func:`feature_column` answers one feature for every entity row of
the part (see :mod:`potluck.windows.offline` for the method and its cost).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from potluck.windows.ranges import distinct_in_ranges, range_reduce
from potluck.windows.spec import Filter, WindowFeature

__all__ = ["Events", "feature_column", "filter_mask"]

_I64 = np.int64
_LD = np.longdouble  # 64-bit mantissa on x86-64: ~3 more decimal digits for prefix sums


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


class Events:
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
        """The column as numpy (nulls as 0) and its Arrow type (converted once)."""
        return self.cached(("numbers", column), lambda: self._numbers(column))  # type: ignore[no-any-return]

    def _numbers(self, column: str) -> tuple[np.ndarray, pa.DataType]:
        col = self.table[column].combine_chunks()
        if pa.types.is_boolean(col.type):
            col = col.cast(pa.int8())
        physical = col
        if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
            physical = col.cast(pa.int64())  # timestamps, dates, durations
        values = pc.fill_null(physical, 0).to_numpy(zero_copy_only=False)
        return np.asarray(values), col.type


def _sum_parts(ev: Events, f: WindowFeature, lo: np.ndarray, hi: np.ndarray, codes: Any) -> Any:
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
    ev: Events, f: WindowFeature, lo: np.ndarray, hi: np.ndarray, count: np.ndarray, s1: Any
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


def feature_column(
    ev: Events, f: WindowFeature, lo: np.ndarray, hi: np.ndarray, codes: Any, t: Any
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


def _min_max(ev: Events, f: WindowFeature, lo: np.ndarray, hi: np.ndarray) -> pa.Array:
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
