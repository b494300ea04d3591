"""Hypothesis strategies and feature lists shared by the window tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
from hypothesis import strategies as st

from potluck.windows.spec import Filter, WindowFeature

__all__ = ["BASE", "FEATURES", "SCHEMA", "events_and_rows", "to_table"]

BASE = datetime(2024, 1, 1, tzinfo=UTC)
SCHEMA = pa.schema(
    [
        ("k", pa.int64()),
        ("k2", pa.string()),
        ("ts", pa.timestamp("us", "UTC")),
        ("iv", pa.int64()),
        ("fv", pa.float64()),
        ("sv", pa.string()),
    ]
)


def _features() -> list[WindowFeature]:
    out: list[WindowFeature] = []
    for w in (1, 7, 30):
        win = timedelta(seconds=w)

        def add(name: str, column: str | None, function: Any, **kw: Any) -> None:
            out.append(WindowFeature(f"{name}_{w}", column, function, win, **kw))  # noqa: B023

        add("n", None, "count")
        add("n_fv", "fv", "count")
        for col in ("fv", "iv"):
            for fn in ("sum", "mean", "min", "max", "stddev", "count_distinct", "last"):
                add(f"{fn}_{col}", col, fn)
        for fn in ("min", "max", "count_distinct", "last"):
            add(f"{fn}_sv", "sv", fn)
        add("since", None, "time_since_last")
        add("since_fv_min", "fv", "time_since_last", unit="minutes")
        add("n_x", None, "count", filter=("sv", "==", "x"))
        add("sum_fv_pos", "fv", "sum", filter=Filter("iv", ">", 0))
        add("cd_iv_in", "iv", "count_distinct", filter=[("sv", "in", ["x", "y"])])
        add("max_fv_notnull", "fv", "max", filter=[("sv", "not_null", None), ("iv", "<=", 2)])
    return out


FEATURES = _features()

_floats = st.one_of(
    st.none(),
    st.just(float("nan")),
    st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False),
    st.integers(-5, 5).map(float),
)


@st.composite
def _event(draw: st.DrawFn, keys: list[Any], span: int) -> dict[str, Any]:
    offset = draw(st.one_of(st.integers(0, span), st.none()))
    return {
        "k": draw(st.sampled_from(keys)),
        "k2": draw(st.sampled_from(["a", "b"])),
        "ts": None if offset is None else BASE + timedelta(seconds=offset),
        "iv": draw(st.one_of(st.none(), st.integers(-3, 3))),
        "fv": draw(_floats),
        "sv": draw(st.one_of(st.none(), st.sampled_from(["x", "y", "z", ""]))),
    }


@st.composite
def events_and_rows(draw: st.DrawFn, span: int = 40) -> tuple[list[dict], list[dict]]:
    """Events over keys 0-2 (and null), rows over keys 0-4 (3, 4 have no events) at
    times from before the first event to after the last, on the same second grid as
    the events so that window edges are hit exactly."""
    keys: list[Any] = [0, 1, 2, None]
    events = draw(st.lists(_event(keys, span), max_size=40))
    rows = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "k": st.sampled_from([*keys, 3, 4]),
                    "k2": st.sampled_from(["a", "b"]),
                    "event_timestamp": st.one_of(
                        st.integers(-5, span + 40).map(lambda s: BASE + timedelta(seconds=s)),
                        st.none(),
                    ),
                }
            ),
            min_size=1,
            max_size=15,
        )
    )
    return events, rows


def to_table(events: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(events, schema=SCHEMA)


def rows_table(rows: list[dict[str, Any]]) -> pa.Table:
    schema = pa.schema(
        [("k", pa.int64()), ("k2", pa.string()), ("event_timestamp", pa.timestamp("us", "UTC"))]
    )
    return pa.Table.from_pylist(rows, schema=schema)
