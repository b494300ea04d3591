"""Parquet specifics: file layout, DuckDB compatibility, scan pushdown, safe names."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from potluck.connectors import ReadRequest, open_connector
from potluck.connectors.parquet import ParquetConnector
from potluck.errors import SourceError

TS = pa.timestamp("us", "UTC")
T0 = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "lake"


@pytest.fixture
def parquet(root: Path) -> ParquetConnector:
    connector = open_connector("lifestyle_data", "parquet", {"root": str(root)})
    assert isinstance(connector, ParquetConnector)
    return connector


def test_one_file_per_table_with_utc_microsecond_timestamps(
    parquet: ParquetConnector, root: Path
) -> None:
    parquet.write("lifestyle", pa.table({"t": pa.array([T0], pa.timestamp("ns"))}))
    assert sorted(p.name for p in root.iterdir()) == ["lifestyle.parquet"]
    logical = pq.ParquetFile(root / "lifestyle.parquet").schema.column(0).logical_type
    described = json.loads(logical.to_json())
    assert (described["isAdjustedToUTC"], described["timeUnit"]) == (True, "microseconds")
    assert stat.S_IMODE((root / "lifestyle.parquet").stat().st_mode) & 0o044  # not private 0600


def test_duckdb_reads_what_was_written(parquet: ParquetConnector, root: Path) -> None:
    times = [T0, T0 + timedelta(microseconds=1)]
    parquet.write("lifestyle", pa.table({"patient_id": ["P1", "P2"], "t": pa.array(times, TS)}))
    path = str(root / "lifestyle.parquet")
    with duckdb.connect() as conn:
        conn.execute("SET TimeZone = 'UTC'")
        rows = conn.execute(
            "SELECT patient_id, t FROM read_parquet(?) ORDER BY t", [path]
        ).fetchall()
    assert [(p, t.astimezone(UTC)) for p, t in rows] == [("P1", times[0]), ("P2", times[1])]


def test_request_is_pushed_into_the_scan(
    parquet: ParquetConnector, monkeypatch: pytest.MonkeyPatch
) -> None:
    parquet.write("l", pa.table({"k": ["a", "b"], "t": pa.array([T0, T0], TS), "v": [1, 2]}))
    seen: dict[str, Any] = {}
    real = ds.dataset

    class Spy:
        def __init__(self, inner: ds.Dataset) -> None:
            self.schema = inner.schema
            self.inner = inner

        def to_table(self, **kwargs: Any) -> pa.Table:
            seen.update(kwargs)
            return self.inner.to_table(**kwargs)

    monkeypatch.setattr(ds, "dataset", lambda *a, **k: Spy(real(*a, **k)))
    request = ReadRequest(
        "l", columns=["v"], key_column="k", keys=["b"], timestamp_column="t", start=T0
    )
    assert parquet.read(request).to_pydict() == {"v": [2]}
    assert list(seen["columns"]) == ["v"]
    predicate = str(seen["filter"])
    assert "is_in" in predicate and ">=" in predicate


def test_optional_keys_are_dropped_only_when_they_cover_much_of_the_file(
    parquet: ParquetConnector,
) -> None:
    """``keys_optional``: 3 keys of an 8-row file (>= a quarter) read every row in the
    time range; 1 key still filters; without the flag the keys always filter."""
    keys = [f"k{i}" for i in range(8)]
    table = pa.table({"k": keys, "t": pa.array([T0 + timedelta(hours=i) for i in range(8)], TS)})
    parquet.write("l", table)
    late = T0 + timedelta(hours=1)  # the time bound holds in every case

    def read(wanted: list[str], optional: bool) -> list[str]:
        request = ReadRequest(
            "l",
            ["k"],
            key_column="k",
            keys=wanted,
            timestamp_column="t",
            start=late,
            keys_optional=optional,
        )
        return parquet.read(request)["k"].to_pylist()

    assert read(["k1", "k2", "k9"], optional=True) == keys[1:]
    assert read(["k1", "k2", "k9"], optional=False) == ["k1", "k2"]
    assert read(["k3"], optional=True) == ["k3"]
    assert read([], optional=True) == []


def test_order_is_kept_across_row_groups(parquet: ParquetConnector, root: Path) -> None:
    root.mkdir()
    data = pa.table({"k": [str(i % 7) for i in range(10_000)], "i": list(range(10_000))})
    pq.write_table(data, root / "big.parquet", row_group_size=1000)
    result = parquet.read(ReadRequest("big", columns=["i"], key_column="k", keys=["3"]))
    assert result.column("i").to_pylist() == [i for i in range(10_000) if i % 7 == 3]


@pytest.mark.parametrize("name", ["../escape", "a/b", "", ".hidden", "a\\b", "nul\x00"])
def test_table_names_cannot_leave_the_root(
    parquet: ParquetConnector, name: str, tmp_path: Path
) -> None:
    with pytest.raises(SourceError, match="invalid table name"):
        parquet.write(name, pa.table({"a": [1]}))
    with pytest.raises(SourceError, match="invalid table name"):
        parquet.read(ReadRequest(name))
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_nested_types_round_trip(parquet: ParquetConnector) -> None:
    data = pa.table({"l": [[1, 2], None], "s": [{"x": 1}, {"x": None}], "b": [b"\x00", None]})
    parquet.write("nested", data)
    assert parquet.read(ReadRequest("nested")).equals(data)


def test_a_corrupt_file_is_a_source_error(parquet: ParquetConnector, root: Path) -> None:
    root.mkdir()
    (root / "broken.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(SourceError, match="ArrowInvalid") as raised:
        parquet.read(ReadRequest("broken"))
    assert raised.value.source == "lifestyle_data" and raised.value.connector == "parquet"


def test_ping_fails_when_the_root_is_a_file(parquet: ParquetConnector, root: Path) -> None:
    root.write_text("a file, not a directory")
    with pytest.raises(SourceError, match="not a readable directory"):
        parquet.ping()


def test_a_lean_read_walks_every_row_group(tmp_path: Path) -> None:
    """A file of many row groups (as other writers produce) is read group by group and
    filtered as it goes; the result is the default read's."""
    root = tmp_path / "lake"
    root.mkdir()
    n = 10_000
    table = pa.table(
        {
            "patient_id": [f"P{i % 500:04d}" for i in range(n)],
            "bmi": [float(i) for i in range(n)],
        }
    )
    pq.write_table(table, root / "groups.parquet", row_group_size=700)
    assert pq.ParquetFile(root / "groups.parquet").num_row_groups > 10
    connector = open_connector("lake", "parquet", {"root": str(root)})
    request = {"key_column": "patient_id", "keys": ["P0001", "P0499"], "columns": ["bmi"]}
    lean = connector.read(ReadRequest("groups", lean=True, **request))
    assert lean.equals(connector.read(ReadRequest("groups", **request)))
    assert lean["bmi"].to_pylist() == [float(i) for i in range(n) if i % 500 in (1, 499)]
