"""The state's byte form: one form per content whatever path wrote it, format 1 refused."""

from __future__ import annotations

import math
import zlib
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from window_data import BASE

from potluck.windows import _codec as codec
from potluck.windows.online import (
    StateFormatError,
    empty_state,
    read,
    update_state_columns,
    update_state_rows,
)
from potluck.windows.spec import WindowFeature

FEATURES = [
    WindowFeature("n", None, "count", timedelta(seconds=30)),
    WindowFeature("s", "x", "sum", timedelta(seconds=30)),
    WindowFeature("sd", "x", "stddev", timedelta(seconds=30)),
    WindowFeature("cd", "y", "count_distinct", timedelta(seconds=30)),
    WindowFeature("last", "y", "last", timedelta(seconds=30)),
]
A = BASE + timedelta(seconds=10)

_VALUES = st.one_of(
    st.none(),
    st.just(float("nan")),
    st.floats(-1e6, 1e6, allow_nan=False),
    st.integers(-(2**70), 2**70),  # beyond int64: a JSON column
    st.booleans(),
    st.sampled_from(["a", "b", ""]),
)


_NUMBERS = st.one_of(st.none(), st.just(float("nan")), st.floats(-1e6, 1e6), st.integers(-9, 9))


def _us(seconds: int) -> int:
    return int(A.timestamp() * 1_000_000) + seconds * 1_000_000


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.tuples(st.integers(1, 8), _NUMBERS, _VALUES), max_size=4), max_size=4))
def test_appended_bytes_equal_a_full_rebuild(batches: list) -> None:
    """Lead-zone batches take the byte-append path; the same events folded one event at a
    time from rows (the general path for any late one) give the same bytes."""
    state = empty_state(FEATURES, "ts", A, timedelta(seconds=60))  # every event kept
    start = 0
    for batch in batches:
        times = sorted(_us(start + dt) for dt, _, _ in batch)
        start += 8
        xs = [x for _, x, _ in batch]
        ys = [y for _, _, y in batch]
        state = update_state_columns(state, times, {"x": xs, "y": ys}, ordered=True)
    flat = [
        (sorted(_us(8 * i + dt) for dt, _, _ in b)[j], b[j][1], b[j][2])
        for i, b in enumerate(batches)
        for j in range(len(b))
    ]
    head = codec.head_of(state)
    ncols = 2
    _, body, _ = codec.unpack(state, ncols)
    rebuilt = codec.pack(head, body, codec.Raw([], [[], []], ["n", "n"]))
    for t, x, y in flat:  # without the append path: unpack, insert, pack
        before = codec.unpack(rebuilt, ncols)[2]
        cleaned = [codec.clean(x), codec.clean(y)]
        kinds = [
            codec.merge(k, codec.kind_of([v])) for k, v in zip(before.kinds, cleaned, strict=True)
        ]
        values = [
            [*codec.convert(vals, k, new), math.nan if new == "f" and v is None else v]
            for vals, k, new, v in zip(before.values, before.kinds, kinds, cleaned, strict=True)
        ]
        rebuilt = codec.pack(head, body, codec.Raw([*before.t, t], values, kinds))
    assert state == rebuilt
    read(state, A + timedelta(seconds=60), FEATURES)  # decodes


def test_rows_and_columns_paths_agree() -> None:
    state = empty_state(FEATURES, "ts", A, timedelta(seconds=20))
    times = [_us(3), _us(-5), _us(1)]  # one before the anchor: body and edge zones
    rows = [{"x": 1.5, "y": "a"}, {"x": 2, "y": None}, {"x": None, "y": "b"}]
    by_rows = update_state_rows(state, times, rows)
    columns = {"x": [r["x"] for r in rows], "y": [r["y"] for r in rows]}
    assert update_state_columns(state, times, columns) == by_rows
    got = read(by_rows, A + timedelta(seconds=5), FEATURES)
    assert got["n"] == 3 and got["s"] == 3.5 and got["cd"] == 2 and got["last"] == "a"


def test_format_1_is_refused_with_a_way_out() -> None:
    old = zlib.compress(b'{"v":1}')
    with pytest.raises(StateFormatError, match="re-materialize"):
        read(old, A, FEATURES)
    with pytest.raises(StateFormatError, match="format 1"):
        update_state_columns(old, [_us(1)], {})
