"""Deterministic data of the Spark parity tests, shared by the ``local[2]`` tests and the
standalone-cluster job (tests/integration/spark/cluster_job.py), so both check the same
edges: the window data has null keys and times, NaN, ties and window edges; the join data
has exact (key, time) ties told apart by created time, TTL edges one microsecond off,
two-key, keyless and empty views and entity keys without features."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from potluck.offline.pull import CREATED, TS, ViewSlice

__all__ = ["join_entity", "join_views", "window_data"]

UTC_US = pa.timestamp("us", "UTC")
BASE = datetime(2024, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
US = timedelta(microseconds=1)


def window_data(seed: int, n_events: int = 400, n_rows: int = 150) -> tuple[list[dict], list[dict]]:
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


def _times(rng: np.random.Generator, n: int, low: int, high: int) -> pa.Array:
    """Times on an hour grid, a third of them one microsecond off: exact ties and TTL edges."""
    hours = rng.integers(low, high, n)
    nudge = rng.choice([0, 0, 0, 1, -1], n)
    return pa.array(
        [BASE + int(h) * HOUR + int(d) * US for h, d in zip(hours, nudge, strict=True)], UTC_US
    )


def join_views(rng: np.random.Generator, n: int) -> list[ViewSlice]:
    pids = pa.array(rng.choice(["p0", "p1", "p2", "p3"], n))
    ints = pa.array([None if v < 0 else int(v) for v in rng.integers(-3, 2**40, n)], pa.int64())
    texts = pa.array([None if v == "-" else v for v in rng.choice(["a", "é'", "-", 'b"c'], n)])
    created = pa.array(rng.permutation(n).astype(np.int64) * 60_000_000, pa.int64()).cast(UTC_US)
    with_created = pa.table(
        {"pid": pids, TS: _times(rng, n, 0, 12), CREATED: created, "v_int": ints, "v_text": texts}
    )
    # exact (key, time) duplicates, told apart by the created time only
    with_created = pa.concat_tables([with_created, with_created.slice(0, n // 4).set_column(
        2, CREATED, pa.array(rng.permutation(n // 4).astype(np.int64) * 7_000_000 + 1, pa.int64()).cast(UTC_US))])  # fmt: skip
    # two join keys, no created column, distinct times per key pair (no undefined ties)
    hours = rng.permutation(48)[: n // 2]
    two_keys = pa.table(
        {
            "pid": pa.array(rng.choice(["p0", "p1", "p2"], n // 2)),
            "site_id": pa.array(rng.choice([1, 2], n // 2).astype(np.int64)),
            TS: pa.array([BASE + int(h) * HOUR / 4 for h in hours], UTC_US),
            "score": pa.array(rng.normal(size=n // 2)),
            "flag": pa.array(rng.integers(0, 2, n // 2).astype(bool)),
        }
    )
    empty = pa.table(
        {"pid": pa.array([], pa.string()), TS: pa.array([], UTC_US), "z": pa.array([], pa.int32())}
    )
    # no join keys at all (an entityless view): the latest row of the whole table as of t
    hours = rng.permutation(40)[:8]
    global_view = pa.table(
        {
            TS: pa.array([BASE + int(h) * HOUR / 3 for h in hours], UTC_US),
            "g": pa.array(hours * 1.5),
        }
    )
    return [
        ViewSlice("a", with_created, {"pid": "pid"}, 3 * HOUR, ["v_int", "v_text"], True),
        ViewSlice("g", global_view, {}, 2 * HOUR, ["g"], False),
        ViewSlice("b", two_keys, {"pid": "pid", "site_id": "site"}, None, ["score", "flag"], False),
        ViewSlice("e", empty, {"pid": "pid"}, HOUR, ["z"], False),
    ]


def join_entity(rng: np.random.Generator, n: int) -> pa.Table:
    pids = [
        None if p == "-" else str(p) for p in rng.choice(["p0", "p1", "p2", "p3", "ghost", "-"], n)
    ]
    entity = pa.table(
        {
            "pid": pa.array(pids, pa.string()),
            "site": pa.array(rng.choice([1, 2, 3], n).astype(np.int64)),
            "event_timestamp": _times(rng, n, -1, 14),
            "label": pa.array(rng.integers(0, 2, n)),
        }
    )
    return pa.concat_tables([entity, entity.slice(0, 3)])  # exact duplicate rows stay
