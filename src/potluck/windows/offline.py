"""The offline kernel: exact point-in-time window features for a whole entity frame.

Every entity row ``(key, t)`` and window ``w`` becomes a half-open range ``[lo, hi)``
of positions in the events sorted by ``(key, time)`` (stable: equal timestamps keep
input order): ``hi`` counts the events with ``(key, time) <= (key, t)`` and ``lo``
those with ``(key, time) <= (key, t - w)``, so the range holds exactly the key's
events with ``t - w < time <= t``. Both come from ``np.searchsorted`` on an int64
``key_code * B + time_offset`` ordering -- O((E + N) log E) in all, no loop over
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

Parts and memory: the events are never sorted or copied all at once. Their keys are
coded against the entity rows' keys (:mod:`potluck.windows._layout`), the codes are cut
into *parts* of whole keys with about :data:`PART_EVENTS` events each, and each part is
gathered, sorted and answered on its own, with the entity rows of its keys; parts run
on a small thread pool (numpy and Arrow release the GIL in the sorts, gathers and
prefix sums), at most one part per thread in flight. Beyond the output and the parts in
flight, the kernel keeps 2 bytes per event (each input batch's rows grouped by part).
A part of 2^18 events fits in the caches, which makes its sort and lookups several
times cheaper per event than one sort of everything.

The per-function answers live in :mod:`potluck.windows._answers`, the min/max
and distinct structures in :mod:`potluck.windows.ranges`. Empty-window values and null
handling are those of :mod:`potluck.windows.spec`.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Literal, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from potluck.windows._answers import Events, feature_column, filter_mask
from potluck.windows._collect import Collector
from potluck.windows._layout import KeyCoder, layout
from potluck.windows.spec import WindowFeature

__all__ = ["compute", "filter_mask", "micros"]

_I64 = np.int64
_T = TypeVar("_T")
MAX_THREADS = 4
# Events per part (an entity row counts as _layout.ROW_WEIGHT events): the per-feature
# work (prefix sums, long-double shifts, gathers) runs over one part at a time, so its
# memory is bounded by the part, not the whole input.
# 2^18 measured fastest of 2^17..2^21 at 10M events (cache-resident sorts and lookups).
PART_EVENTS = 1 << 18


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
    threads: int | None = None,
) -> pa.Table:
    """``entity_rows`` (same rows, same order) with one column per feature appended.

    ``events`` hold the key columns, ``timestamp_column`` and every column the features
    read; ``entity_rows`` the key columns and ``entity_timestamp_column``. Events with
    a null key or time are ignored; entity rows with one get empty-window values.
    The work runs over parts of about ``part_events`` events (whole keys each), on
    ``threads`` threads (default: the usable cores, at most :data:`MAX_THREADS`)."""
    keys = [key_columns] if isinstance(key_columns, str) else list(key_columns)
    clash = {f.name for f in features} & set(entity_rows.column_names)
    if clash or len({f.name for f in features}) != len(features):
        raise ValueError(f"feature names must be unique and new, clashing: {sorted(clash)}")
    needed = sorted({c for f in features for c in f.columns})
    missing = (set(needed) | set(keys) | {timestamp_column}) - set(events.column_names)
    if missing:
        raise ValueError(f"events lack columns {sorted(missing)}")
    coder = KeyCoder(entity_rows, events, keys)
    plan = layout(
        events.select([*keys, timestamp_column, *needed]), coder, timestamp_column, part_events
    )
    en_t, en_valid = micros(entity_rows[entity_timestamp_column])
    en_codes = coder.entity.astype(_I64)
    en_codes[~en_valid] = -1  # unusable rows ride with part 0, over an empty range
    en_part = plan.part_of(en_codes)
    en_order = np.argsort(en_part, kind="stable")
    en_starts = np.searchsorted(en_part[en_order], np.arange(len(plan.cuts)), "left")
    del en_part
    # Only ``last`` sees the order of events with equal (key, time): its tie rule is
    # "later in input", which needs the stable sort. Every other function is the same
    # in any tie order, and the unstable sort is 1.5-4x faster.
    kind: Literal["stable", "quicksort"] = "quicksort"
    if any(f.function == "last" for f in features):
        kind = "stable"

    def one_part(p: int) -> tuple[np.ndarray, dict[str, pa.Array]]:
        first, last = int(plan.cuts[p]), int(plan.cuts[p + 1])
        codes = plan.codes(p)
        times = micros(plan.column(p, timestamp_column))[0]
        ordinal = _Ordinal(times, last - first)
        composite = ordinal.events(codes, times)
        order = np.argsort(composite, kind=kind)
        composite = composite[order]
        table = pa.table({c: plan.column(p, c) for c in needed}).take(order)
        part = Events(table, codes[order], times[order], last - first)
        del codes, times, order
        mine = en_order[en_starts[p] : en_starts[p + 1]]
        local = np.where(en_codes[mine] >= 0, en_codes[mine] - first, -1)
        # the part's rows in (key, time) order: every range lookup below then walks the
        # part's arrays forward instead of jumping at random (the collector puts the
        # answers back in input order; rows tied on (key, time) get the same answers,
        # so the unstable sort will do)
        by_time = np.argsort(ordinal.query(local, en_t[mine]))
        mine, local = mine[by_time], local[by_time]
        return mine, _answer(part, composite, ordinal, local, en_t[mine], features)

    collect = Collector([f.name for f in features], entity_rows.num_rows)
    for mine, answers in _run(one_part, len(plan.cuts) - 1, threads):
        collect.add(mine, answers)
    out = entity_rows
    for f in features:
        out = out.append_column(f.name, collect.column(f.name))
    return out


def _run(work: Callable[[int], _T], n: int, threads: int | None) -> Iterator[_T]:
    """``work(0) .. work(n - 1)`` in order, at most ``threads`` of them at once (numpy and
    Arrow release the GIL in the sorts, gathers and prefix sums that dominate a part)."""
    if not threads:  # the cores this process may use (affinity is Linux-only)
        usable = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
        threads = min(len(usable) if usable else os.cpu_count() or 1, MAX_THREADS)
    if threads <= 1 or n <= 1:
        yield from (work(i) for i in range(n))
        return
    with ThreadPoolExecutor(threads, thread_name_prefix="potluck-windows") as pool:
        pending: deque[Future[_T]] = deque()
        for i in range(n):
            pending.append(pool.submit(work, i))
            # bounded: the parts in flight (and their memory) never exceed the threads
            if len(pending) >= threads:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _answer(
    part: Events,
    composite: np.ndarray,
    ordinal: _Ordinal,
    codes: np.ndarray,
    t: np.ndarray,
    features: Sequence[WindowFeature],
) -> dict[str, pa.Array]:
    """Every feature for the entity rows of one part (``codes`` local, -1: unusable),
    given in (key, time) order: ``(code, t - w)`` then sorts the same way (a shift within
    each key, then clipping), so every window's search probes memory in order."""
    usable = codes >= 0
    hi = np.where(usable, np.searchsorted(composite, ordinal.query(codes, t), "right"), 0)
    lows: dict[int, np.ndarray] = {}  # features sharing a window share its range starts
    out = {}
    for f in features:
        if f.window_us not in lows:
            starts = ordinal.query(codes, t - f.window_us)
            lows[f.window_us] = np.where(usable, np.searchsorted(composite, starts, "right"), 0)
        out[f.name] = feature_column(part, f, lows[f.window_us], hi, codes, t)
    return out
