"""Where the offline kernel's events go: key codes and parts of whole keys.

The kernel never sorts or copies all the events at once. It codes each event's key
against the *entity rows'* distinct keys (events of other keys are never read by a
window, so they are dropped here), counts the events per code, cuts the codes into
ranges ("parts") of about ``part_events`` events, and lists, per input batch, the
batch's rows grouped by part (a counting sort of a small part id). A part's columns are
gathered from those zero-copy batches when the part is computed, so what is kept of the
input's size is one uint16 row number per event."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["BATCH", "KeyCoder", "Layout", "layout"]

_I32, _I64 = np.int32, np.int64


class _ColumnCoder:
    """Codes one key column against the entity rows' distinct values (-1: null/absent).

    Integer keys spanning a small range use a lookup table (a gather, ~20x faster than
    hashing); other keys use Arrow's ``index_in``."""

    def __init__(self, entity: pa.Array, event_type: pa.DataType) -> None:
        if entity.type != event_type:
            entity = entity.cast(event_type)
        self.lut: np.ndarray | None = None
        self.lo = self.hi = 0
        if pa.types.is_integer(event_type) and entity.null_count < len(entity):
            lo, hi = (int(v.as_py()) for v in pc.min_max(entity).values())
            # a table of at most 8 entries per entity row (or 64k): small, no hashing;
            # keys at the int64 edges keep the hash (lo - 1 and hi + 1 must fit)
            small = hi - lo < max(8 * len(entity), 1 << 16)
            if small and lo > -(2**63) and hi < 2**63 - 1:
                v = np.asarray(entity.drop_null().to_numpy(), dtype=_I64) - lo
                present = np.zeros(hi - lo + 1, dtype=bool)
                present[v] = True
                self.size = int(present.sum())
                # -1 before lo and after hi: a clipped key indexes the table directly
                lut = np.full(hi - lo + 3, -1, dtype=_I32)
                lut[1:-1] = np.where(present, np.cumsum(present) - 1, -1)
                self.lut, self.lo, self.hi = lut, lo, hi
                return
        self.values = pc.unique(entity).drop_null()
        self.size = len(self.values)

    def __call__(self, column: pa.Array) -> np.ndarray:
        if self.lut is None:
            idx = pc.index_in(column, value_set=self.values)
            return np.asarray(pc.fill_null(idx, -1).to_numpy(), dtype=_I32)
        nulls = None
        if column.null_count:
            nulls = np.asarray(column.is_null().to_numpy(zero_copy_only=False), bool)
            column = pc.fill_null(column, pa.scalar(self.lo, column.type))
        x = np.asarray(column.to_numpy(zero_copy_only=False))
        # clip in int64 first: a difference of far-away keys could wrap around
        at = np.clip(x, self.lo - 1, self.hi + 1, dtype=_I64, casting="unsafe")
        at -= self.lo - 1
        codes = self.lut.take(at)
        if nulls is not None:
            codes[nulls] = -1
        return codes


class KeyCoder:
    """Dense codes of a (composite) key, ``0 <= code < size``, from the entity rows."""

    def __init__(self, entity: pa.Table, events: pa.Table, keys: Sequence[str]) -> None:
        self.columns = [
            _ColumnCoder(entity[k].combine_chunks(), events.schema.field(k).type) for k in keys
        ]
        self.keys = list(keys)
        # composite keys: after each column, the entity rows' distinct (code so far, this
        # column's code) pairs, sorted; an event pair not among them has no entity row
        self.pairs: list[np.ndarray] = []
        codes = self.columns[0](entity[keys[0]].combine_chunks())
        for name, coder in zip(keys[1:], self.columns[1:], strict=True):
            idx = coder(entity[name].combine_chunks())
            ok = (codes >= 0) & (idx >= 0)
            pairs = np.unique(codes[ok].astype(_I64) * coder.size + idx[ok])
            self.pairs.append(pairs)
            codes = self._combine(codes, idx, coder.size, pairs)
        self.entity = codes
        self.size = len(self.pairs[-1]) if self.pairs else self.columns[0].size

    @staticmethod
    def _combine(codes: np.ndarray, idx: np.ndarray, size: int, pairs: np.ndarray) -> np.ndarray:
        pair = codes.astype(_I64) * size + idx
        at = np.minimum(np.searchsorted(pairs, pair), max(len(pairs) - 1, 0))
        found = (codes >= 0) & (idx >= 0) & (pairs[at] == pair if len(pairs) else False)
        return np.where(found, at, -1).astype(_I32)

    def __call__(self, columns: Mapping[str, pa.Array] | pa.RecordBatch) -> np.ndarray:
        codes = self.columns[0](columns[self.keys[0]])
        for name, coder, pairs in zip(self.keys[1:], self.columns[1:], self.pairs, strict=True):
            codes = self._combine(codes, coder(columns[name]), coder.size, pairs)
        return codes


BATCH = 1 << 16  # rows per input batch: a part's positions in it fit in uint16
# An entity row's answers (a range per window, long-double sums, one value per feature)
# weigh about 4 events' arrays: with many rows per event, parts are cut smaller.
ROW_WEIGHT = 4


@dataclass
class Layout:
    """The events' parts: part ``p`` holds the key codes ``[cuts[p], cuts[p + 1])``.
    Per input batch (``BATCH`` rows, zero-copy slices of the input), ``order`` lists
    the batch's usable rows (uint16) grouped by part, input order kept inside a part,
    and ``bounds[p]:bounds[p + 1]`` is part ``p``'s slice of it."""

    cuts: np.ndarray
    schema: pa.Schema
    batches: list[pa.RecordBatch]
    order: list[np.ndarray]
    bounds: list[np.ndarray]
    local: list[np.ndarray]  # per part: its events' codes minus its first code
    cache: dict[str, list[np.ndarray] | None] = field(default_factory=dict)

    def part_of(self, codes: np.ndarray) -> np.ndarray:
        """The part of each code (-1 codes go to part 0)."""
        return np.searchsorted(self.cuts[1:-1], codes, "right")

    def codes(self, part: int) -> np.ndarray:
        """The part's events' codes relative to its first code (released here)."""
        codes, self.local[part] = self.local[part], self.local[part][:0]
        return codes.astype(_I64)

    def column(self, part: int, name: str) -> pa.Array:
        """The column of the part's events, in input order."""
        typ = self.schema.field(name).type
        slices = [
            (b, order[bounds[part] : bounds[part + 1]])
            for b, (order, bounds) in enumerate(zip(self.order, self.bounds, strict=True))
            if bounds[part + 1] > bounds[part]
        ]
        views = self._views(name)
        if views is not None:  # a numpy gather per batch costs ~1/20 of an Arrow take
            values = np.concatenate([views[b][rows] for b, rows in slices] or [views[0][:0]])
            return pa.Array.from_buffers(typ, len(values), [None, pa.py_buffer(values)])
        pieces = [self.batches[b].column(name).take(rows) for b, rows in slices]
        if not pieces:
            return pa.array([], typ)
        return pa.concat_arrays(pieces) if len(pieces) > 1 else pieces[0]

    def _views(self, name: str) -> list[np.ndarray] | None:
        """Zero-copy numpy views of a fixed-width column without nulls, per batch."""
        if name not in self.cache:
            typ = self.schema.field(name).type
            fixed = pa.types.is_primitive(typ) and typ.bit_width in (8, 16, 32, 64)
            views = None
            if fixed and self.batches and all(not b.column(name).null_count for b in self.batches):
                bits = np.dtype(f"u{typ.bit_width // 8}")  # the values' bits, any type
                views = [
                    np.frombuffer(b.column(name).buffers()[1], bits)[
                        b.column(name).offset : b.column(name).offset + b.num_rows
                    ]
                    for b in self.batches
                ]
            self.cache[name] = views
        return self.cache[name]


def layout(events: pa.Table, coder: KeyCoder, timestamp_column: str, part_events: int) -> Layout:
    """Codes the events batch by batch, cuts the codes into parts of about
    ``part_events`` events (an entity row of the part's keys counting as ROW_WEIGHT
    events), and lists each batch's usable rows by part. What is kept of the input's
    size is 2 bytes per event, and each part's codes until the part is computed (2 bytes
    per event for parts under 65,536 keys): an E-sized temporary costs its memory and,
    freshly mapped, page faults."""
    batches = events.to_batches(max_chunksize=BATCH)
    n_keys = max(coder.size, 1)
    counts = np.zeros(n_keys, dtype=_I64)
    coded: list[np.ndarray] = []
    for batch in batches:
        codes = coder(batch)
        ts = batch.column(timestamp_column)
        if ts.null_count:
            codes = np.where(np.asarray(ts.is_null().to_numpy(zero_copy_only=False)), -1, codes)
        counts += np.bincount(codes[codes >= 0], minlength=n_keys)
        coded.append(codes)
    cum = np.cumsum(counts)
    # the code holding each multiple of part_events in the running work (in key order)
    rows = np.bincount(coder.entity[coder.entity >= 0], minlength=n_keys)
    work = np.cumsum(counts + ROW_WEIGHT * rows)
    marks = np.searchsorted(work, np.arange(part_events, int(work[-1]), part_events), "right")
    cuts = np.unique(np.concatenate([[0], marks, [n_keys]]).astype(_I64))
    n_parts = len(cuts) - 1
    small = np.uint8 if n_parts < 255 else np.uint16 if n_parts < 65535 else _I32
    part = np.searchsorted(cuts[1:-1], np.arange(n_keys), "right").astype(small)
    orders: list[np.ndarray] = []
    bounds: list[np.ndarray] = []
    # each part's codes, relative to its first code, in one buffer per part: gathering
    # them again per part (as the other columns are) would sweep the whole key column
    sizes = np.diff(np.concatenate([[0], cum[cuts[1:] - 1]]))
    narrow = np.uint16 if int(np.diff(cuts).max()) <= 1 << 16 else _I32
    local = [np.empty(int(n), dtype=narrow) for n in sizes]
    filled = np.zeros(n_parts, dtype=_I64)
    for i, codes in enumerate(coded):
        # unusable events get the id n_parts: they sort after every part, never read
        ids = np.where(codes >= 0, part[np.maximum(codes, 0)], small(n_parts))
        # a stable sort of 8/16-bit ids is a radix sort: input order kept in each part
        order = np.argsort(ids, kind="stable")
        bounds.append(np.searchsorted(ids[order], np.arange(n_parts + 1), "left"))
        orders.append(order[: bounds[-1][-1]].astype(np.uint16))
        grouped = codes[orders[-1]]
        for p in np.flatnonzero(np.diff(bounds[-1])):
            a, b = bounds[-1][p], bounds[-1][p + 1]
            local[p][filled[p] : filled[p] + b - a] = grouped[a:b] - cuts[p]
            filled[p] += b - a
        coded[i] = codes[:0]  # free as we go
    return Layout(cuts, events.schema, batches, orders, bounds, local)
