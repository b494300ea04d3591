"""The offline kernel against the brute-force reference, for every function."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from window_data import BASE, FEATURES, events_and_rows, rows_table, to_table
from window_reference import reference, values_match

from potluck.windows.offline import compute
from potluck.windows.spec import WindowFeature

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check(
    events: list[dict],
    rows: list[dict],
    keys: list[str],
    shuffle: Any = None,
    part_events: int | None = None,
) -> None:
    table = to_table(events)
    if shuffle is not None:  # late / unsorted input: same multiset, another order
        table = table.take(pa.array(shuffle, pa.int64()))
        events = [events[i] for i in shuffle]
    parts = {} if part_events is None else {"part_events": part_events}
    got = compute(table, keys, "ts", rows_table(rows), FEATURES, **parts).to_pylist()
    want = reference(events, keys, "ts", rows, FEATURES)
    fv = [abs(e["fv"]) for e in events if e["fv"] is not None and not math.isnan(e["fv"])]
    scale = max(fv, default=1.0)
    assert len(got) == len(rows)
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g["k"] == rows[i]["k"] and g["event_timestamp"] == rows[i]["event_timestamp"]
        for name, expected in w.items():
            assert values_match(expected, g[name], scale), (i, name, expected, g[name])


@SETTINGS
@given(events_and_rows())
def test_int_key_matches_reference(data: tuple[list[dict], list[dict]]) -> None:
    _check(*data, keys=["k"])


@SETTINGS
@given(events_and_rows())
def test_composite_key_matches_reference(data: tuple[list[dict], list[dict]]) -> None:
    _check(*data, keys=["k", "k2"])


@SETTINGS
@given(events_and_rows(), st.integers(min_value=1, max_value=6))
def test_parts_of_a_few_events_answer_the_same(
    data: tuple[list[dict], list[dict]], part_events: int
) -> None:
    """The kernel works over parts of whole keys (bounded memory): with parts of one to
    six events -- a part per key or several keys per part -- every value still matches."""
    _check(*data, keys=["k"], part_events=part_events)
    _check(*data, keys=["k", "k2"], part_events=part_events)


@SETTINGS
@given(events_and_rows(), st.randoms(use_true_random=False))
def test_string_key_and_unsorted_input(data: tuple[list[dict], list[dict]], rnd: Any) -> None:
    events, rows = data
    order = list(range(len(events)))
    rnd.shuffle(order)
    # equal timestamps keep input order: the reference sees the shuffled order too
    _check(events, rows, keys=["k2"], shuffle=order)


def test_edges_exactly() -> None:
    """t - w is excluded, t is included; rows before any event and unknown keys are empty."""
    events = [
        {"k": 1, "k2": "a", "ts": BASE + timedelta(seconds=s), "iv": s, "fv": None, "sv": None}
        for s in (0, 10, 10, 20)
    ]
    rows = [
        {"k": 1, "k2": "a", "event_timestamp": BASE + timedelta(seconds=s)}
        for s in (-1, 0, 9, 10, 20, 30)
    ] + [{"k": 7, "k2": "a", "event_timestamp": BASE}]
    w = WindowFeature("n", None, "count", timedelta(seconds=10))
    s = WindowFeature("s", "iv", "sum", timedelta(seconds=10))
    last = WindowFeature("since", None, "time_since_last", timedelta(seconds=10))
    out = compute(to_table(events), "k", "ts", rows_table(rows), [w, s, last]).to_pydict()
    assert out["n"] == [0, 1, 1, 2, 1, 0, 0]  # (t-10, t]: at 10 the event at 0 is out
    assert out["s"] == [0, 0, 0, 20, 20, 0, 0]
    assert out["since"] == [None, 0.0, 9.0, 0.0, 0.0, None, None]


def test_stddev_is_stable_for_large_offsets() -> None:
    """Values 1e9 + small noise: naive sums of squares would lose every digit."""
    rng = np.random.default_rng(1)
    n = 2000
    values = 1e9 + rng.normal(0, 1, n)
    events = pa.table(
        {
            "k": pa.array(rng.integers(0, 3, n)),
            "ts": pa.array(BASE.timestamp() * 1e6 + rng.integers(0, 10**9, n), pa.int64()).cast(
                pa.timestamp("us", "UTC")
            ),
            "fv": pa.array(values),
        }
    )
    rows = pa.table({"k": [0, 1, 2], "event_timestamp": [BASE + timedelta(seconds=900)] * 3})
    rows = rows.cast(pa.schema([("k", pa.int64()), ("event_timestamp", pa.timestamp("us", "UTC"))]))
    feature = WindowFeature("sd", "fv", "stddev", timedelta(seconds=400))
    got = compute(events, "k", "ts", rows, [feature])["sd"].to_pylist()
    want = reference(events.to_pylist(), ["k"], "ts", rows.to_pylist(), [feature])
    for g, w in zip(got, want, strict=True):
        assert math.isclose(g, w["sd"], rel_tol=1e-6)


def test_no_events_at_all() -> None:
    rows = rows_table([{"k": 1, "k2": "a", "event_timestamp": BASE}])
    out = compute(to_table([]), "k", "ts", rows, FEATURES).to_pylist()[0]
    want = reference([], ["k"], "ts", rows.to_pylist(), FEATURES)[0]
    assert all(values_match(want[n], out[n]) for n in want)


def test_rejects_clashing_names() -> None:
    rows = rows_table([{"k": 1, "k2": "a", "event_timestamp": BASE}])
    with pytest.raises(ValueError, match="unique"):
        compute(to_table([]), "k", "ts", rows, [WindowFeature("k", None, "count", timedelta(1))])


def test_rank_ordering_for_huge_spans() -> None:
    """Keys x time span past 2^62 microseconds switch to ranks of event times."""
    from datetime import UTC, datetime

    early, late = datetime(1700, 1, 1, tzinfo=UTC), datetime(2250, 1, 1, tzinfo=UTC)
    events = [
        {"k": k, "k2": "a", "ts": t, "iv": k, "fv": None, "sv": None}
        for k in range(400)
        for t in (early, late)
    ]
    rows = [{"k": k, "k2": "a", "event_timestamp": late} for k in (0, 399)]
    rows += [{"k": 5, "k2": "a", "event_timestamp": early}]
    # every key among the entity rows: the codes are the entity rows' keys, and 400 of
    # them times ~550 years of microseconds pass 2^62
    rows += [{"k": k, "k2": "a", "event_timestamp": late} for k in range(1, 399)]
    feats = [
        WindowFeature("n", None, "count", timedelta(days=365)),
        WindowFeature("all", "iv", "sum", timedelta(days=365 * 600)),
    ]
    out = compute(to_table(events), "k", "ts", rows_table(rows), feats).to_pydict()
    assert out["n"][:3] == [1, 1, 1]
    assert out["all"][:3] == [0, 2 * 399, 5]
