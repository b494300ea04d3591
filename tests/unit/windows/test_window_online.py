"""The online state: read at any t in [A, A + h] equals the offline kernel at t, and
stream updates give the bytes of a batch build over the same events."""

from __future__ import annotations

import math
from datetime import timedelta

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from window_data import BASE, FEATURES, events_and_rows, to_table
from window_reference import values_match

from potluck.windows.offline import compute
from potluck.windows.online import build_states, empty_state, read, update_state
from potluck.windows.spec import WindowFeature

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
Data = tuple[list[dict], list[dict]]


@SETTINGS
@given(
    events_and_rows(),
    st.integers(-5, 60),
    st.sampled_from([1, 3, 10, 50]),
    st.lists(st.floats(0, 1), min_size=1, max_size=6),
)
def test_read_equals_offline(data: Data, anchor: int, horizon: int, fractions: list) -> None:
    events, _ = data
    as_of, h = BASE + timedelta(seconds=anchor), timedelta(seconds=horizon)
    states = build_states(to_table(events), "k", "ts", FEATURES, as_of, h)
    empty = empty_state(FEATURES, "ts", as_of, h)
    # request times on the event grid (window edges hit exactly) and between
    times = [as_of + h * x for x in fractions] + [as_of, as_of + h]
    times += [as_of + timedelta(seconds=round(horizon * x)) for x in fractions]
    rows = [{"k": k, "event_timestamp": t} for k in (0, 1, 2, 3) for t in times]
    schema = pa.schema([("k", pa.int64()), ("event_timestamp", pa.timestamp("us", "UTC"))])
    offline = compute(to_table(events), "k", "ts", pa.Table.from_pylist(rows, schema), FEATURES)
    fv = [abs(e["fv"]) for e in events if e["fv"] is not None and not math.isnan(e["fv"])]
    for row, want in zip(rows, offline.to_pylist(), strict=True):
        got = read(states.get((row["k"],), empty), row["event_timestamp"], FEATURES)
        for f in FEATURES:
            assert values_match(want[f.name], got[f.name], max(fv, default=1.0)), (
                row,
                f.name,
                want[f.name],
                got[f.name],
            )


@SETTINGS
@given(events_and_rows(), st.integers(0, 40), st.integers(-5, 60), st.sampled_from([1, 10, 50]))
def test_stream_updates_equal_batch(data: Data, split: int, anchor: int, horizon: int) -> None:
    events, _ = data
    as_of, h = BASE + timedelta(seconds=anchor), timedelta(seconds=horizon)
    first, later = events[:split], events[split:]  # later may hold late (older) events
    batch = build_states(to_table(events), "k", "ts", FEATURES, as_of, h)
    states = build_states(to_table(first), "k", "ts", FEATURES, as_of, h)
    for key, want in batch.items():
        state = states.get(key, empty_state(FEATURES, "ts", as_of, h))
        mine = [e for e in later if e["k"] == key[0]]
        # one event at a time, as a stream processor would, or one micro-batch
        one_by_one = state
        for event in mine:
            one_by_one = update_state(one_by_one, to_table([event]))
        assert one_by_one == want
        assert update_state(state, mine) == want


def test_read_refuses_outside_the_valid_range() -> None:
    f = WindowFeature("n", None, "count", timedelta(hours=1))
    state = empty_state([f], "ts", BASE, timedelta(minutes=5))
    assert read(state, BASE + timedelta(minutes=5), [f]) == {"n": 0}
    with pytest.raises(ValueError, match="exact for"):
        read(state, BASE + timedelta(minutes=6), [f])
    with pytest.raises(ValueError, match="exact for"):
        read(state, BASE - timedelta(seconds=1), [f])
    other = WindowFeature("n", None, "count", timedelta(hours=2))
    with pytest.raises(ValueError, match="not in this state"):
        read(state, BASE, [other])


def test_body_keeps_state_small() -> None:
    """A 30-day window with 10k events keeps a partial, not 10k raw events."""
    n = 10_000
    events = pa.table(
        {
            "k": pa.array([1] * n, pa.int64()),
            "ts": pa.array(
                [BASE + timedelta(minutes=4 * i) for i in range(n)], pa.timestamp("us", "UTC")
            ),
            "fv": pa.array([float(i % 97) for i in range(n)]),
        }
    )
    feats = [WindowFeature(f"{fn}_30d", "fv", fn, timedelta(days=30)) for fn in ("sum", "max")]
    as_of = BASE + timedelta(minutes=4 * n)
    state = build_states(events, "k", "ts", feats, as_of, timedelta(hours=1))[(1,)]
    assert len(state) < 2_000
    rows = pa.table({"k": [1], "event_timestamp": [as_of + timedelta(minutes=30)]})
    rows = rows.cast(pa.schema([("k", pa.int64()), ("event_timestamp", pa.timestamp("us", "UTC"))]))
    want = compute(events, "k", "ts", rows, feats).to_pylist()[0]
    got = read(state, as_of + timedelta(minutes=30), feats)
    assert math.isclose(got["sum_30d"], want["sum_30d"]) and got["max_30d"] == want["max_30d"]
