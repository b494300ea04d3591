"""One pass over a source split into per-chunk spill files, as the plan cuts chunks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from potluck.online._source import assign_chunks, chunk_boundaries
from potluck.online._spill import chunk_of, partition, read_spill


def _rows(keys: list[str | int | None]) -> pa.Table:
    return pa.table({"key": keys, "row": np.arange(len(keys))})


def _plan(table: pa.Table, chunk_rows: int) -> tuple[list[str | int], list[pa.Array]]:
    counted = pc.value_counts(pc.drop_null(table["key"]))
    values, counts = counted.field("values"), counted.field("counts")
    order = pc.sort_indices(values)
    keys, rows = values.take(order), counts.take(order).to_numpy().astype(np.int64)
    boundaries = chunk_boundaries(keys, rows, chunk_rows)
    return boundaries, assign_chunks(keys, boundaries)


@pytest.mark.parametrize("kind", ["string", "integer"])
def test_each_wanted_chunk_gets_exactly_its_keys_rows_in_read_order(
    kind: str, tmp_path: Path
) -> None:
    rng = np.random.default_rng(3)
    ids = rng.integers(0, 300, 5000)
    keys: list[str | int | None] = [f"P{i:04d}" if kind == "string" else int(i) for i in ids]
    keys[17] = keys[4000] = None  # rows without a key belong to no chunk
    table = _rows(keys)
    boundaries, chunks = _plan(table, 200)
    assert len(chunks) > 10
    wanted = list(range(0, len(chunks), 2))  # as after a resume: every other chunk left
    files = partition(
        iter(table.to_batches(max_chunksize=333)), "key", boundaries, wanted, tmp_path
    )
    assert sorted(files) == wanted
    for index in wanted:
        expected = table.filter(pc.is_in(table["key"], value_set=chunks[index]))
        got = read_spill(files[index])
        assert got.num_rows > 0
        assert got.equals(expected.combine_chunks()), index  # same rows, same order
        assert not files[index].exists()  # read once, then removed
    assert not list(tmp_path.iterdir())  # nothing written for the chunks not wanted


def test_chunk_of_follows_the_plans_boundaries() -> None:
    keys = pa.array(["A", "P0001", "P0100", "P0150", "P0200", "Z", None])
    assert chunk_of(keys, ["P0001", "P0100", "P0200"]).tolist() == [0, 0, 1, 1, 2, 2, -1]
    numbers = pa.array([-5, 1, 99, 100, 1000, None], pa.int64())
    assert chunk_of(numbers, [1, 100]).tolist() == [0, 0, 0, 1, 1, -1]


def test_a_pass_with_no_rows_for_a_chunk_writes_no_file(tmp_path: Path) -> None:
    table = _rows(["P1", "P1", "P3"])
    files = partition(iter(table.to_batches()), "key", ["P1", "P2", "P3"], [1], tmp_path)
    assert files == {}
