"""Iceberg specifics: file pruning, time travel, snapshot isolation, errors, refused writes.

The contract (test_connector_contract.py) already holds the iceberg connector to
what every connector does; these tests cover what only a table format has:
statistics that prune whole files, snapshots to travel back to, and commits that a
concurrent read must see entirely or not at all.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from potluck.connectors import ReadRequest, open_connector
from potluck.connectors.iceberg import IcebergConnector
from potluck.connectors.iceberg import _catalog as glue
from potluck.errors import ConfigurationError, RequestError, SourceError, SourceSchemaError

SOURCE = "clinical_measurements"
TS = pa.timestamp("us", "UTC")
T0 = datetime(2024, 1, 1, tzinfo=UTC)
BATCHES = 4
PER_BATCH = 50


def _options(base: Path, **extra: Any) -> dict[str, Any]:
    return {"uri": f"sqlite:///{base / 'catalog.db'}", "warehouse": str(base / "wh"), **extra}


def _open(base: Path, **extra: Any) -> IcebergConnector:
    connector = open_connector(SOURCE, "iceberg", _options(base, **extra))
    assert isinstance(connector, IcebergConnector)
    return connector


@pytest.fixture
def iceberg(tmp_path: Path) -> IcebergConnector:
    return _open(tmp_path)


def _batch(b: int) -> pa.Table:
    """Batch ``b``: keys P{b}00.. and times in day ``b`` only (disjoint min/max per file)."""
    return pa.table(
        {
            "patient_id": [f"P{b}{i:02d}" for i in range(PER_BATCH)],
            "visit_date": pa.array(
                [T0 + timedelta(days=b, minutes=i) for i in range(PER_BATCH)], TS
            ),
            "bmi": [float(b * 100 + i) for i in range(PER_BATCH)],
            "batch": pa.array([b] * PER_BATCH, pa.int32()),
        }
    )


def _appended(connector: IcebergConnector, batches: int = BATCHES) -> pa.Table:
    """One append per batch: one data file per batch."""
    for b in range(batches):
        connector.write("visits", _batch(b), mode="append")
    return pa.concat_tables([_batch(b) for b in range(batches)])


# -- pushdown ---------------------------------------------------------------------------


def test_keys_and_window_prune_data_files(iceberg: IcebergConnector) -> None:
    everything = _appended(iceberg)
    assert len(iceberg.planned_files(ReadRequest("visits"))) == BATCHES

    keys = ReadRequest("visits", key_column="patient_id", keys=["P105", "P110"])
    window = ReadRequest(
        "visits",
        timestamp_column="visit_date",
        start=T0 + timedelta(days=2),
        end=T0 + timedelta(days=2, hours=12),
    )
    both = ReadRequest(
        "visits", columns=["bmi"], key_column="patient_id", keys=["P105"],
        timestamp_column="visit_date", start=T0 + timedelta(days=2),
    )  # fmt: skip
    # min/max statistics of each file exclude every other batch: one file opened, not four
    assert len(iceberg.planned_files(keys)) == 1
    assert len(iceberg.planned_files(window)) == 1
    assert iceberg.planned_files(both) == []

    assert iceberg.read(keys).equals(everything.take([55, 60]))
    assert iceberg.read(window).column("batch").to_pylist() == [2] * PER_BATCH
    assert iceberg.read(both).num_rows == 0
    assert iceberg.read(both).schema == pa.schema([("bmi", pa.float64())])


def test_the_plan_carries_the_pushed_filter_and_projection(iceberg: IcebergConnector) -> None:
    _appended(iceberg, 2)
    plan = iceberg.plan(
        ReadRequest("visits", columns=["bmi"], timestamp_column="visit_date", end=T0)
    )
    assert plan.fetch == ("bmi",)
    assert "LessThanOrEqual" in repr(plan.row_filter)
    assert plan.snapshot.snapshot_id == iceberg.snapshots("visits")[-1][0]


# -- time travel ------------------------------------------------------------------------


def test_time_travel_reads_rows_replaced_since(iceberg: IcebergConnector) -> None:
    first = _batch(0)
    iceberg.write("visits", first)
    (old_id, old_time), *_ = iceberg.snapshots("visits")
    time.sleep(0.01)  # snapshot times are milliseconds
    replaced = pa.table({"patient_id": ["Z"], "score": pa.array([7], pa.int16())})
    iceberg.write("visits", replaced)  # a new schema, too
    assert iceberg.read(ReadRequest("visits")).equals(replaced)
    # one catalog commit; pyiceberg records an overwrite as a delete then an append snapshot
    assert len(iceberg.snapshots("visits")) > 1

    assert iceberg.read_at(ReadRequest("visits"), snapshot_id=old_id).equals(first)
    at_time = iceberg.read_at(ReadRequest("visits", columns=["bmi"]), as_of=old_time)
    assert at_time.equals(first.select(["bmi"]))
    keyed = ReadRequest("visits", key_column="patient_id", keys=["P003"])
    assert iceberg.read_at(keyed, snapshot_id=old_id).equals(first.take([3]))

    with pytest.raises(SourceError, match="no snapshot as of"):
        iceberg.read_at(ReadRequest("visits"), as_of=old_time - timedelta(days=1))
    with pytest.raises(SourceError, match="no snapshot 12345"):
        iceberg.read_at(ReadRequest("visits"), snapshot_id=12345)
    with pytest.raises(RequestError, match="exactly one"):
        iceberg.read_at(ReadRequest("visits"))


def test_a_pinned_connector_reads_the_past_and_refuses_writes(
    iceberg: IcebergConnector, tmp_path: Path
) -> None:
    iceberg.write("visits", _batch(0))
    (old_id, old_time), *_ = iceberg.snapshots("visits")
    iceberg.write("visits", _batch(1), mode="append")
    for pin in ({"snapshot_id": old_id}, {"as_of": old_time.isoformat()}):
        pinned = _open(tmp_path, **pin)
        assert pinned.read(ReadRequest("visits")).equals(_batch(0))
        with pytest.raises(SourceError, match="read-only"):
            pinned.write("visits", _batch(2), mode="append")
    assert iceberg.read(ReadRequest("visits")).num_rows == 2 * PER_BATCH
    with pytest.raises(ConfigurationError, match="not both"):
        _open(tmp_path, snapshot_id=old_id, as_of=old_time.isoformat())


# -- snapshot isolation -------------------------------------------------------------------


def test_a_commit_between_plan_and_read_is_not_seen(
    iceberg: IcebergConnector, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    iceberg.write("visits", _batch(0))
    other = _open(tmp_path)  # another writer, with its own catalog connection
    real = glue.plan_in_order

    def plan_then_commit(*args: Any) -> list[Any]:
        tasks = real(*args)
        other.write("visits", _batch(1), mode="append")  # lands before any file is read
        other.write("visits", _batch(2))  # and a replace, too
        return tasks

    monkeypatch.setattr(glue, "plan_in_order", plan_then_commit)
    assert iceberg.read(ReadRequest("visits")).equals(_batch(0))
    monkeypatch.undo()
    assert iceberg.read(ReadRequest("visits")).equals(_batch(2))


def test_reads_during_concurrent_appends_see_whole_commits(tmp_path: Path) -> None:
    reader, writer = _open(tmp_path), _open(tmp_path)
    writer.write("visits", _batch(0))
    failures: list[BaseException] = []

    def append() -> None:
        try:
            for b in range(1, 9):
                writer.write("visits", _batch(b), mode="append")
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    thread = threading.Thread(target=append)
    thread.start()
    seen = set()
    while thread.is_alive() or len(seen) < 2:
        counts = reader.read(ReadRequest("visits", columns=["batch"])).column("batch")
        values = counts.to_pylist()
        # one snapshot's rows: whole batches 0..n, in commit order, never a part of one
        assert values == [b for b in range(len(values) // PER_BATCH) for _ in range(PER_BATCH)]
        seen.add(len(values))
        if not thread.is_alive():
            break
    thread.join()
    assert not failures
    assert reader.read(ReadRequest("visits")).num_rows == 9 * PER_BATCH


# -- errors --------------------------------------------------------------------------


def test_a_missing_catalog_database_is_a_source_error_and_not_created(tmp_path: Path) -> None:
    absent = _open(tmp_path / "nowhere")
    for call in (lambda: absent.read(ReadRequest("visits")), lambda: absent.schema("visits")):
        with pytest.raises(SourceError, match="'visits' is missing") as raised:
            call()
        assert (raised.value.source, raised.value.connector) == (SOURCE, "iceberg")
        assert "no catalog database" in raised.value.detail
    assert not (tmp_path / "nowhere").exists()


def test_an_unreachable_catalog_server_is_a_source_error(tmp_path: Path) -> None:
    uri = "postgresql+psycopg://postgres@127.0.0.1:1/nope?connect_timeout=2"
    down = open_connector(SOURCE, "iceberg", {"uri": uri, "warehouse": str(tmp_path)})
    for call in (
        lambda: down.read(ReadRequest("visits")),
        lambda: down.write("visits", _batch(0)),
        down.ping,
    ):
        with pytest.raises(SourceError) as raised:
            call()
        message = raised.value.message
        assert f"source '{SOURCE}' (iceberg connector)" in message
        assert "127.0.0.1:1/nope" in message and "OperationalError" in message


def test_a_missing_table_names_the_source_namespace_and_catalog(
    iceberg: IcebergConnector, tmp_path: Path
) -> None:
    iceberg.write("visits", _batch(0))
    elsewhere = _open(tmp_path, namespace="other")  # a namespace never written to
    with pytest.raises(SourceError, match="'visits' is missing from namespace 'other'") as raised:
        elsewhere.read(ReadRequest("visits"))
    assert f"source '{SOURCE}'" in raised.value.message
    assert "catalog 'potluck'" in raised.value.message


# -- refused writes --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "mode", "match"),
    [
        (pa.table({"patient_id": ["X"], "bmi": [1.0]}), "append", "missing"),
        (_batch(1).append_column("extra", pa.array([1] * PER_BATCH)), "append", "unexpected"),
        (_batch(1).set_column(2, "bmi", pa.array(["x"] * PER_BATCH)), "append", "types"),
        (pa.table({"u": pa.array([2**64 - 1], pa.uint64())}), "replace", "unsigned 64-bit"),
    ],
    ids=["missing-columns", "extra-column", "bad-type", "uint64"],
)
def test_a_refused_write_commits_nothing(
    iceberg: IcebergConnector, tmp_path: Path, data: pa.Table, mode: Any, match: str
) -> None:
    iceberg.write("visits", _batch(0))
    before = iceberg.snapshots("visits")
    files = sorted(p.name for p in (tmp_path / "wh").rglob("*"))
    with pytest.raises(SourceSchemaError, match=match):
        iceberg.write("visits", data, mode=mode)
    assert iceberg.snapshots("visits") == before
    assert iceberg.read(ReadRequest("visits")).equals(_batch(0))
    assert sorted(p.name for p in (tmp_path / "wh").rglob("*")) == files


def test_many_keys_push_their_range_and_keep_exactly_the_keys(iceberg: IcebergConnector) -> None:
    """Above IN_LIMIT keys the scan gets the key range (files still pruned by statistics)
    and the exact keys are kept in Arrow: same rows as a plain filter."""
    from potluck.connectors.iceberg.connector import IN_LIMIT

    ids = [f"K{i:05d}" for i in range(3 * IN_LIMIT)]
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    table = pa.table(
        {
            "key": ids,
            "ts": pa.array(
                [t0 + timedelta(hours=i) for i in range(len(ids))], pa.timestamp("us", "UTC")
            ),
            "v": list(range(len(ids))),
        }
    )
    iceberg.write("wide", table.slice(0, len(ids) // 2))
    iceberg.write("wide", table.slice(len(ids) // 2), mode="append")
    wanted = [*ids[: IN_LIMIT + 100], "K00000a"]  # > IN_LIMIT keys (one unknown), in file 1
    request = ReadRequest("wide", ["ts", "v"], key_column="key", keys=wanted)
    plan = iceberg.plan(request)
    assert plan.keep_keys is not None and "key" in plan.fetch
    assert len(plan.files) == 1  # the second file's key range is outside [min, max]
    got = iceberg.read(request)
    assert got.column_names == ["ts", "v"]
    assert got["v"].to_pylist() == list(range(IN_LIMIT + 100))
    few = iceberg.read(ReadRequest("wide", ["v"], key_column="key", keys=wanted[:3]))
    assert few["v"].to_pylist() == [0, 1, 2]
