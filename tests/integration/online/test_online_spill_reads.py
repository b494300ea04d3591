"""Reading a view's chunks through one scan and spill files gives what keyed reads give."""

from __future__ import annotations

from pathlib import Path

import pytest

from potluck.online import _source
from potluck.online._source import (
    ViewSource,
    assign_chunks,
    chunk_boundaries,
    read_chunk,
    read_chunks,
    window_keys,
)
from tests.integration.online.helpers import END, EPOCH, clone

pytestmark = pytest.mark.xdist_group("online")


def test_every_view_reads_the_same_chunks_scanned_once_as_read_by_key(
    online_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several passes (3 chunks each), some chunks already written (skipped, as on a
    resume); every view of the deployment, whichever connector holds it."""
    monkeypatch.setattr(_source, "PASS_CHUNKS", 3)
    repo = clone(online_home, tmp_path / "home")
    spilled = 0
    for view in repo.store.list_feature_views():
        if not view.online:
            continue
        vs = ViewSource.of(view)
        keys, counts = window_keys(repo.config, vs, EPOCH, END)
        boundaries = chunk_boundaries(keys, counts, 300)
        chunks = assign_chunks(keys, boundaries)
        assert len(chunks) >= 3, view.name
        pending = [(i, chunk) for i, chunk in enumerate(chunks) if i % 3 != 1]
        spill = tmp_path / "spill" / view.name
        got = list(read_chunks(repo.config, vs, boundaries, pending, EPOCH, END, spill))
        assert [index for index, _ in got] == [index for index, _ in pending]
        for (index, table), (_, chunk) in zip(got, pending, strict=True):
            expected = read_chunk(repo.config, vs, chunk, EPOCH, END)
            assert table.num_rows == len(chunk) > 0, (view.name, index)
            assert table.equals(expected), (view.name, index)
        if spill.exists():
            spilled += 1
            assert not list(spill.iterdir())  # every spill file read and removed
    assert spilled >= 4  # the Parquet-held views went through spill files
