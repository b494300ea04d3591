"""Run state on disk, the lock, chunk planning and the latest-row rule."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pytest

from potluck.errors import RequestError
from potluck.online import _state
from potluck.online._source import CREATED, TS, assign_chunks, chunk_boundaries, latest_rows
from potluck.online.stores import open_reader, open_writer, store_kind

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _state_of(done: dict[int, int]) -> _state.RunState:
    return _state.RunState(
        run_id="r1",
        store="sqlite:/x:p",
        end=T0,
        incremental=True,
        lookback_s=7200.0,
        chunk_size=10,
        started_at=T0,
        views={"v": _state.ViewProgress(start=T0, end=T0, boundaries=["a", "k"], done=done)},
    )


def test_state_round_trips_and_replaces_atomically(tmp_path: Path) -> None:
    assert _state.load_run(tmp_path) is None
    state = _state_of({0: 5})
    _state.save_run(tmp_path, state)
    loaded = _state.load_run(tmp_path)
    assert loaded == state and loaded is not None and loaded.views["v"].rows == 5
    assert [p.name for p in _state.state_path(tmp_path).parent.iterdir()] == [
        "materialize_state.json"
    ]  # no temp file left behind


def test_a_corrupt_state_file_means_no_state(tmp_path: Path) -> None:
    path = _state.state_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    assert _state.load_run(tmp_path) is None


def test_lock_refuses_a_second_holder(tmp_path: Path) -> None:
    with (
        _state.exclusive(tmp_path),
        pytest.raises(RequestError, match="another materialization"),
        _state.exclusive(tmp_path),
    ):
        pass
    with _state.exclusive(tmp_path):  # released: free again
        pass


def test_chunks_hold_whole_entities_of_about_chunk_rows() -> None:
    keys = pa.array(["a", "b", "c", "d", "e"])
    rows = np.array([3, 1, 10, 1, 1])  # c alone is bigger than a chunk
    assert chunk_boundaries(keys, rows, 4) == ["a", "c", "d"]
    assert chunk_boundaries(keys, rows, 100) == ["a"]
    assert chunk_boundaries(pa.array([], pa.string()), np.array([], np.int64), 4) == []


def test_chunks_keep_their_keys_when_keys_are_added() -> None:
    keys = pa.array([f"P{i:03d}" for i in range(10)])
    bounds = chunk_boundaries(keys, np.ones(10, dtype=np.int64), 4)
    assert bounds == ["P000", "P004", "P008"]
    chunks = assign_chunks(keys, bounds)
    assert [c.to_pylist() for c in chunks] == [
        ["P000", "P001", "P002", "P003"],
        ["P004", "P005", "P006", "P007"],
        ["P008", "P009"],
    ]
    grown = pa.array(sorted(["A", "P0045", "Z", *keys.to_pylist()]))
    again = [c.to_pylist() for c in assign_chunks(grown, bounds)]
    assert again[0] == ["A", "P000", "P001", "P002", "P003"]
    assert again[1] == ["P004", "P0045", "P005", "P006", "P007"]
    assert again[2] == ["P008", "P009", "Z"]
    assert assign_chunks(pa.array([], pa.string()), []) == []


def test_latest_row_per_key_by_event_then_created_then_read_order() -> None:
    ts = pa.timestamp("us", tz="UTC")
    table = pa.table(
        {
            "k": ["a", "a", "b", "b", "b", "c", "c"],
            TS: pa.array([1, 2, 5, 5, 5, 3, 3], ts),
            CREATED: pa.array([0, 0, 1, None, 2, 7, 7], ts),
            "v": [10, 20, 30, 40, 50, 60, 70],
        }
    )
    out = latest_rows(table, ["k"], created=True)
    assert out["k"].to_pylist() == ["a", "b", "c"]
    assert out["v"].to_pylist() == [20, 50, 70]  # c: exact tie -> the row read last


def test_stores_without_a_fast_backend_fall_back_to_feast() -> None:
    config = SimpleNamespace(
        online_store=SimpleNamespace(type="dynamodb"), entity_key_serialization_version=3
    )
    assert store_kind(config) is None  # type: ignore[arg-type]
    assert open_writer(config) is None and open_reader(config) is None  # type: ignore[arg-type]
    old = SimpleNamespace(
        online_store=SimpleNamespace(type="sqlite"), entity_key_serialization_version=2
    )
    assert store_kind(old) is None  # type: ignore[arg-type]
