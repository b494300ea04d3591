"""The offline kernel's layout: key coding, parts gathered from many input batches,
the thread pool and the output collector give the reference's values on every path."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from window_data import BASE, FEATURES, events_and_rows, rows_table, to_table
from window_reference import reference, values_match

from potluck.windows import _layout
from potluck.windows.offline import compute

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check(events: pa.Table, rows: pa.Table, keys: list[str], **kw: Any) -> None:
    got = compute(events, keys, "ts", rows, FEATURES, **kw).to_pylist()
    want = reference(events.to_pylist(), keys, "ts", rows.to_pylist(), FEATURES)
    fv = [abs(v) for v in events["fv"].to_pylist() if v is not None and not math.isnan(v)]
    scale = max(fv, default=1.0)
    assert len(got) == rows.num_rows
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        for name, expected in w.items():
            assert values_match(expected, g[name], scale), (i, name, expected, g[name])


def _rekey(table: pa.Table, column: str, typ: pa.DataType, scale: int, shift: int) -> pa.Table:
    """The key column mapped k -> k * scale + shift, as ``typ`` (nulls stay null)."""
    keys = [None if k is None else k * scale + shift for k in table[column].to_pylist()]
    return table.set_column(table.schema.get_field_index(column), column, pa.array(keys, typ))


@SETTINGS
@given(events_and_rows(), st.integers(1, 5), st.sampled_from([1, 2]))
def test_many_small_batches_and_threads(
    data: tuple[list[dict], list[dict]], part_events: int, threads: int
) -> None:
    """Input in chunks of 3 rows and batches of 4: a part's events come from many batches
    (and a batch feeds many parts); parts run on one or two threads."""
    events = pa.Table.from_batches(
        to_table(data[0]).to_batches(max_chunksize=3), to_table([]).schema
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_layout, "BATCH", 4)
        for keys in (["k"], ["k", "k2"], ["k2"]):
            _check(events, rows_table(data[1]), keys, part_events=part_events, threads=threads)


@SETTINGS
@given(
    events_and_rows(),
    st.sampled_from(
        [
            (pa.int64(), 1, 0),  # a small range: the lookup table
            (pa.int64(), 10**12, -(10**15)),  # keys far apart: hashed
            (pa.int64(), 1, -(2**63)),  # at the int64 edges: hashed
            (pa.int64(), 1, 2**63 - 5),
            (pa.int32(), 7, -100),
            (pa.uint32(), 3, 2**31),
            (pa.uint64(), 2**61, 0),
        ]
    ),
)
def test_integer_keys_of_every_width_and_range(
    data: tuple[list[dict], list[dict]], mapping: tuple[pa.DataType, int, int]
) -> None:
    typ, scale, shift = mapping
    events = _rekey(to_table(data[0]), "k", typ, scale, shift)
    rows = _rekey(rows_table(data[1]), "k", typ, scale, shift)
    _check(events, rows, ["k"], part_events=2)
    if typ.bit_width == 32:  # entity keys of another integer type are cast to the events'
        _check(events, rows.cast(rows.schema.set(0, pa.field("k", pa.int64()))), ["k"])


def test_events_of_keys_without_entity_rows_are_not_read() -> None:
    """Only the entity rows' keys are coded: other keys' events never reach a part."""
    at = BASE + timedelta(seconds=1)
    events = to_table(
        [{"k": k, "k2": "a", "ts": at, "iv": 1, "fv": 1.0, "sv": "x"} for k in range(50)]
    )
    rows = rows_table([{"k": 7, "k2": "a", "event_timestamp": at}])
    plan = _layout.layout(events, _layout.KeyCoder(rows, events, ["k"]), "ts", 1)
    assert len(plan.cuts) == 2 and sum(len(c) for c in plan.local) == 1
    assert compute(events, "k", "ts", rows, FEATURES[:1]).column(-1).to_pylist() == [1]
