"""Window features on Spark equal the local kernel, value for value.

Random events over integer and composite keys (with null keys, null times, NaN, ties,
events on the window edges, entity rows before any event and keys without events),
every function and filter of the shared feature list, computed by
``window_columns_spark`` (co-grouped ``applyInArrow``) and by the local kernel.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from tests.unit.windows.window_data import BASE, FEATURES, rows_table, to_table
from tests.unit.windows.window_reference import values_match

from potluck.offline.spark_windows import window_columns_spark
from potluck.windows.offline import compute

pytestmark = [pytest.mark.xdist_group("spark"), pytest.mark.integration]


def _check(spark: Any, events: list[dict], rows: list[dict], keys: list[str]) -> None:
    table, entity = to_table(events), rows_table(rows)
    local = compute(table, keys, "ts", entity, FEATURES)
    remote = window_columns_spark(table, keys, "ts", entity, "event_timestamp", FEATURES, spark)
    assert remote.num_rows == entity.num_rows
    for f in FEATURES:
        want, got = local[f.name].to_pylist(), remote[f.name].to_pylist()
        bad = [i for i, (w, g) in enumerate(zip(want, got, strict=True)) if not values_match(w, g)]
        assert not bad, (f.name, keys, [(want[i], got[i]) for i in bad[:3]])


def _data(seed: int, n_events: int = 400, n_rows: int = 150) -> tuple[list[dict], list[dict]]:
    """Deterministic data with every edge the property tests draw: null keys and times,
    NaN and null values, ties and events on window edges (a one-second grid), entity
    rows before the first event, and keys (3, 4) without events."""
    rng = np.random.default_rng(seed)
    keys: list[Any] = [0, 1, 2, None]
    events = []
    for _ in range(n_events):
        offset = int(rng.integers(0, 60))
        events.append(
            {
                "k": keys[int(rng.integers(0, 4))],
                "k2": "ab"[int(rng.integers(0, 2))],
                "ts": None if rng.random() < 0.03 else BASE + timedelta(seconds=offset),
                "iv": None if rng.random() < 0.1 else int(rng.integers(-3, 4)),
                "fv": [None, float("nan"), float(rng.normal(0, 100)), float(rng.integers(-5, 6))][
                    int(rng.integers(0, 4))
                ],
                "sv": [None, "x", "y", "z", ""][int(rng.integers(0, 5))],
            }
        )
    rows = [
        {
            "k": [*keys, 3, 4][int(rng.integers(0, 6))],
            "k2": "ab"[int(rng.integers(0, 2))],
            "event_timestamp": None
            if rng.random() < 0.03
            else BASE + timedelta(seconds=int(rng.integers(-5, 100))),
        }
        for _ in range(n_rows)
    ]
    return events, rows


def test_spark_windows_equal_local_on_integer_and_composite_keys(spark: Any) -> None:
    events, rows = _data(3)
    _check(spark, events, rows, keys=["k"])
    _check(spark, events, rows, keys=["k", "k2"])
