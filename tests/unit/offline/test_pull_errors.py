"""A driver error a connector did not translate leaves named after the source,
whether it happens in a read, in starting a scan, or while a scan streams."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from offline_harness import build_world

from potluck.connectors import ReadRequest
from potluck.errors import SourceError
from potluck.offline import pull
from potluck.offline.source import PotluckSource


class _Broken:
    """A connector whose driver fails in every way (untranslated)."""

    def read(self, request: ReadRequest) -> pa.Table:
        raise RuntimeError("socket closed")

    def scan(self, request: ReadRequest) -> Iterator[pa.RecordBatch]:
        if request.columns == ["at-start"]:
            raise RuntimeError("socket closed")
        return self._stream()

    def _stream(self) -> Iterator[pa.RecordBatch]:
        yield pa.record_batch({"x": [1]})
        raise RuntimeError("socket closed")


@pytest.fixture
def lifestyle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[object, PotluckSource]:
    world = build_world(tmp_path)
    source = world.store.get_feature_view("lifestyle").batch_source
    assert isinstance(source, PotluckSource)
    monkeypatch.setattr(pull, "connector_for", lambda _config, _source: _Broken())
    return world.config, source


def test_a_read_error_names_the_source(lifestyle: tuple) -> None:
    config, source = lifestyle
    with pytest.raises(SourceError, match=r"lifestyle.*parquet.*RuntimeError: socket closed"):
        pull.read_source(config, source, ReadRequest("lifestyle"))


def test_a_scan_error_names_the_source_at_start_and_mid_stream(lifestyle: tuple) -> None:
    config, source = lifestyle
    with pytest.raises(SourceError, match=r"lifestyle.*parquet.*RuntimeError: socket closed"):
        pull.scan_source(config, source, ReadRequest("lifestyle", columns=["at-start"]))
    batches = pull.scan_source(config, source, ReadRequest("lifestyle"))
    assert batches is not None
    assert next(batches).num_rows == 1  # what came before the failure
    with pytest.raises(SourceError, match=r"lifestyle.*parquet.*RuntimeError: socket closed"):
        next(batches)
