"""A window feature's value at read time: the state's body partial plus the raw events.

Features of one read that share a window, a column and filters (count, sum and mean of
one window) share the raw events picked for them and their exact sum.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from itertools import repeat
from typing import Any

from potluck.windows._codec import Dyadic, Raw, add, exact, inexact, ratio
from potluck.windows._head import Feature

__all__ = ["Picked", "pick", "value"]


def pick(f: Feature, raw: Raw, a: int, h: int, now: int) -> list[tuple[int, Any]]:
    """The raw events of ``f``'s window at ``now`` that the body does not count."""
    times, values, w = raw.t, raw.values, f.w
    lo, hi = bisect_right(times, now - w), bisect_right(times, now)
    picked: list[tuple[int, Any]] = []
    if lo >= hi:
        return picked
    # the body zone (a - w + h, a] is counted by the partial, not again
    b_lo, b_hi = bisect_right(times, a - w + h), bisect_right(times, a)
    spans = (
        (range(lo, hi),) if b_lo >= b_hi else (range(lo, min(hi, b_lo)), range(max(lo, b_hi), hi))
    )
    col = values[f.column] if f.column >= 0 else None
    for span in spans:
        if f.filters:
            for i in span:
                if f.counts(values, i):
                    picked.append((times[i], None if col is None else col[i]))
        elif col is None:  # every event counts: no per-event test
            picked += zip(times[span.start : span.stop], repeat(None))
        else:  # non-null values (NaN != NaN)
            picked += [(times[i], v) for i in span if (v := col[i]) is not None and v == v]
    return picked


class Picked:
    """One window's raw events, with their values and exact sums made on first use."""

    __slots__ = ("_s1", "_values", "events")

    def __init__(self, events: list[tuple[int, Any]]) -> None:
        self.events = events
        self._values: list[Any] | None = None
        self._s1: tuple[Dyadic, bool] | None = None

    @property
    def values(self) -> list[Any]:
        if self._values is None:
            self._values = [v for _, v in self.events]
        return self._values

    def s1(self) -> tuple[Dyadic, bool]:
        """The values' exact sum and whether any is a float (shared by sum and mean)."""
        if self._s1 is None:
            total, floats = (0, 0), False
            for v in self.values:
                total = add(total, exact(v))
                floats = floats or inexact(v)
            self._s1 = total, floats
        return self._s1


def value(f: Feature, body: dict[str, Any], picked: Picked, now: int) -> Any:
    """Combine the body partial and the raw events of the window (in time order)."""
    n = body["n"] + len(picked.events)
    fn = f.fn
    if fn == "count":
        return n
    values = picked.values
    if fn == "count_distinct":
        return len(set(body.get("set", ())).union(values))
    if fn in ("sum", "mean", "stddev"):
        raw_sum, raw_float = picked.s1()
        is_float = body.get("float", False) or raw_float
        s1 = add(body.get("s1", (0, 0)), raw_sum)
        if fn == "sum":
            return ratio(s1) if is_float else s1[0]
        if fn == "mean":
            return ratio(s1, n) if n else None
        if n < 2:
            return None
        s2 = body.get("s2", (0, 0))
        for v in values:
            m, k = exact(v)
            s2 = add(s2, (m * m, 2 * k))
        # n * s2 - s1^2 over the common denominator 2**e, then one rounding
        e = max(s2[1], 2 * s1[1])
        top = ((n * s2[0]) << (e - s2[1])) - ((s1[0] * s1[0]) << (e - 2 * s1[1]))
        return math.sqrt(top / ((n * (n - 1)) << e))
    if not n:
        return None
    if fn in ("min", "max"):
        pool = values + ([body["v"]] if body["n"] else [])
        return min(pool) if fn == "min" else max(pool)
    # last / time_since_last: raw events after the body beat it, raw ones before lose
    later = [(ti, v) for ti, v in picked.events if body["n"] == 0 or ti > body["t"]]
    ti, v = later[-1] if later else (body["t"], body["v"])
    if fn == "last":
        return v
    return (now - ti) / (6e7 if f.spec.unit == "minutes" else 1e6)
