"""The connector contract, run against every embedded kind (sqlite, parquet, jsonl, iceberg).

tests/integration/connectors/ runs these same functions against real servers
(postgres, s3, iceberg on PostgreSQL + S3)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from potluck.connectors import Connector, ReadRequest, open_connector
from potluck.errors import ConfigurationError, RequestError, SourceError, SourceSchemaError

SOURCE = "clinical_measurements"
TS = pa.timestamp("us", "UTC")
T0 = datetime(2024, 1, 1, tzinfo=UTC)
T1 = datetime(2024, 1, 31, tzinfo=UTC)
US = timedelta(microseconds=1)


def _window_table() -> pa.Table:
    times = [T0 - US, T0, T0 + timedelta(hours=1), T1, T1 + US, None]
    return pa.table(
        {
            "patient_id": ["P1", "P2", "P1", "P3", "P1", "P2"],
            "visit_date": pa.array(times, TS),
            "bmi": [20.0, 21.0, 22.0, 23.0, 24.0, 25.0],
        }
    )


def test_round_trip_is_exact(connector: Connector, sample: pa.Table) -> None:
    assert connector.write("measurements", sample) == sample.num_rows
    result = connector.read(ReadRequest("measurements"))
    assert result.schema == sample.schema
    assert result.equals(sample)
    assert result.column("visit_date").type == TS


def test_round_trip_survives_a_new_connector(
    make_connector: Callable[[], Connector], sample: pa.Table
) -> None:
    make_connector().write("measurements", sample)
    again = make_connector()
    assert again.read(ReadRequest("measurements")).equals(sample)
    assert again.schema("measurements") == sample.schema


def test_zero_row_table_round_trips_with_its_schema(connector: Connector, sample: pa.Table) -> None:
    empty = sample.slice(0, 0)
    assert connector.write("empty", empty) == 0
    result = connector.read(ReadRequest("empty"))
    assert result.num_rows == 0
    assert result.schema == sample.schema
    assert connector.schema("empty") == sample.schema


def test_schema_matches_what_read_returns(connector: Connector, sample: pa.Table) -> None:
    connector.write("measurements", sample)
    assert connector.schema("measurements") == sample.schema
    assert connector.read(ReadRequest("measurements")).schema == connector.schema("measurements")


def test_all_null_columns_keep_their_type(connector: Connector) -> None:
    data = pa.table(
        {
            "i": pa.array([None, None], pa.int64()),
            "s": pa.array([None, None], pa.string()),
            "t": pa.array([None, None], TS),
            "n": pa.nulls(2),
        }
    )
    connector.write("nulls", data)
    assert connector.read(ReadRequest("nulls")).equals(data)
    assert connector.read(ReadRequest("nulls")).schema == data.schema


def test_timestamps_are_normalised_to_utc_microseconds(connector: Connector) -> None:
    naive_ns = pa.array([1_700_000_000_123_456_789, -1], pa.timestamp("ns"))
    paris = pa.array([datetime(2024, 6, 1, 12, tzinfo=UTC)], pa.timestamp("s", "Europe/Paris"))
    connector.write("n", pa.table({"t": naive_ns}))
    connector.write("p", pa.table({"t": paris}))
    floored = connector.read(ReadRequest("n")).column("t")
    assert floored.type == TS
    # sub-microsecond digits are floored, also before the epoch (-1 ns -> -1 us)
    assert floored.to_pylist() == [
        datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ]
    assert connector.read(ReadRequest("p")).column("t").to_pylist() == [
        datetime(2024, 6, 1, 12, tzinfo=UTC)
    ]


def test_dictionary_columns_are_decoded(connector: Connector) -> None:
    data = pa.table({"g": pa.array(["f", "m", None, "f"]).dictionary_encode()})
    connector.write("d", data)
    result = connector.read(ReadRequest("d"))
    assert result.schema.field("g").type == pa.string()
    assert result.column("g").to_pylist() == ["f", "m", None, "f"]


def test_columns_come_back_in_the_requested_order(connector: Connector, sample: pa.Table) -> None:
    connector.write("measurements", sample)
    result = connector.read(ReadRequest("measurements", columns=["note", "patient_id", "visits"]))
    assert result.column_names == ["note", "patient_id", "visits"]
    assert result.equals(sample.select(["note", "patient_id", "visits"]))


def test_empty_column_list_keeps_the_row_count(connector: Connector, sample: pa.Table) -> None:
    connector.write("measurements", sample)
    result = connector.read(
        ReadRequest("measurements", columns=[], key_column="patient_id", keys=["P1"])
    )
    assert result.num_columns == 0
    assert result.num_rows == 2


def test_key_filter_keeps_only_listed_keys_in_write_order(
    connector: Connector, sample: pa.Table
) -> None:
    connector.write("measurements", sample)
    request = ReadRequest("measurements", key_column="patient_id", keys=["P3", "P1", "absent"])
    result = connector.read(request)
    assert result.column("patient_id").to_pylist() == ["P1", "P3", "P1"]
    assert result.equals(sample.take([0, 2, 3]))


def test_empty_key_list_gives_zero_rows_with_the_schema(
    connector: Connector, sample: pa.Table
) -> None:
    connector.write("measurements", sample)
    result = connector.read(
        ReadRequest(
            "measurements", columns=["visits", "visit_date"], key_column="patient_id", keys=[]
        )
    )
    assert result.num_rows == 0
    assert result.schema == sample.select(["visits", "visit_date"]).schema


def test_keys_are_compared_as_the_key_column_type(connector: Connector) -> None:
    connector.write("ids", pa.table({"id": pa.array([1, 2, 3], pa.int64()), "v": ["a", "b", "c"]}))
    result = connector.read(ReadRequest("ids", key_column="id", keys=["3", "1"]))
    assert result.column("v").to_pylist() == ["a", "c"]
    with pytest.raises(RequestError, match="keys do not fit"):
        connector.read(ReadRequest("ids", key_column="id", keys=["not a number"]))


def test_time_window_is_inclusive_at_both_edges(connector: Connector) -> None:
    data = _window_table()
    connector.write("w", data)
    result = connector.read(ReadRequest("w", timestamp_column="visit_date", start=T0, end=T1))
    assert result.column("visit_date").to_pylist() == [T0, T0 + timedelta(hours=1), T1]
    assert result.equals(data.take([1, 2, 3]))


def test_open_ended_windows(connector: Connector) -> None:
    connector.write("w", _window_table())
    since = connector.read(ReadRequest("w", timestamp_column="visit_date", start=T1))
    until = connector.read(ReadRequest("w", timestamp_column="visit_date", end=T0))
    assert since.column("bmi").to_pylist() == [23.0, 24.0]
    assert until.column("bmi").to_pylist() == [20.0, 21.0]
    # a timestamp column without bounds filters nothing, not even nulls
    everything = connector.read(ReadRequest("w", timestamp_column="visit_date"))
    assert everything.num_rows == 6


def test_naive_and_offset_bounds_mean_the_same_instant(connector: Connector) -> None:
    connector.write("w", _window_table())
    plus_two = timezone(timedelta(hours=2))
    naive = connector.read(
        ReadRequest(
            "w",
            timestamp_column="visit_date",
            start=T0.replace(tzinfo=None),
            end=T1.replace(tzinfo=None),
        )
    )
    offset = connector.read(
        ReadRequest(
            "w",
            timestamp_column="visit_date",
            start=T0.astimezone(plus_two),
            end=T1.astimezone(plus_two),
        )
    )
    assert naive.column("bmi").to_pylist() == [21.0, 22.0, 23.0]
    assert offset.equals(naive)


def test_window_matching_nothing_keeps_the_schema(connector: Connector) -> None:
    data = _window_table()
    connector.write("w", data)
    result = connector.read(ReadRequest("w", timestamp_column="visit_date", start=T1, end=T0))
    assert result.num_rows == 0
    assert result.schema == data.schema


def test_key_window_and_projection_combine(connector: Connector) -> None:
    connector.write("w", _window_table())
    request = ReadRequest(
        "w", columns=["bmi"], key_column="patient_id", keys=["P1"],
        timestamp_column="visit_date", start=T0, end=T1,
    )  # fmt: skip
    result = connector.read(request)
    assert result.column_names == ["bmi"]
    assert result.column("bmi").to_pylist() == [22.0]


def test_append_adds_rows_after_the_existing_ones(connector: Connector, sample: pa.Table) -> None:
    connector.write("measurements", sample)
    more = sample.slice(1, 2)
    assert connector.write("measurements", more, mode="append") == 2
    assert connector.read(ReadRequest("measurements")).equals(pa.concat_tables([sample, more]))


def test_append_accepts_reordered_castable_columns(connector: Connector) -> None:
    connector.write("t", pa.table({"a": pa.array([1], pa.int64()), "b": ["x"]}))
    connector.write("t", pa.table({"b": ["y"], "a": pa.array([2], pa.int32())}), mode="append")
    result = connector.read(ReadRequest("t"))
    assert result.schema == pa.schema([("a", pa.int64()), ("b", pa.string())])
    assert result.to_pydict() == {"a": [1, 2], "b": ["x", "y"]}


def test_append_with_other_columns_is_refused(connector: Connector) -> None:
    connector.write("t", pa.table({"a": [1], "b": ["x"]}))
    with pytest.raises(SourceSchemaError, match=r"missing \['b'\], unexpected \['c'\]"):
        connector.write("t", pa.table({"a": [2], "c": ["y"]}), mode="append")
    assert connector.read(ReadRequest("t")).to_pydict() == {"a": [1], "b": ["x"]}


def test_append_to_a_missing_table_creates_it(connector: Connector, sample: pa.Table) -> None:
    assert connector.write("fresh", sample, mode="append") == sample.num_rows
    assert connector.read(ReadRequest("fresh")).equals(sample)


def test_replace_swaps_the_whole_table(connector: Connector, sample: pa.Table) -> None:
    connector.write("measurements", sample)
    other = pa.table({"x": [1.5]})
    connector.write("measurements", other)
    assert connector.read(ReadRequest("measurements")).equals(other)
    assert connector.schema("measurements") == other.schema


def _break_the_next_write(kind: str, monkeypatch: pytest.MonkeyPatch) -> pa.Table:
    """Data whose write fails after the backend has started writing it."""
    if kind == "sqlite":
        # The second row overflows SQLite's INTEGER inside executemany: after DROP+CREATE.
        return pa.table({"id": pa.array([1, 2**64 - 1], pa.uint64())})
    if kind == "postgres":
        # PostgreSQL refuses NUL in text: COPY fails on row 2, after the new table exists.
        return pa.table({"id": ["fine", "not\x00fine"]})
    if kind == "iceberg":
        # Data files, manifests and the new metadata file are written; then the catalog
        # database fails to record the commit (a full disk): nothing may be left behind.
        from sqlalchemy.exc import OperationalError
        from sqlalchemy.orm import Session

        def disk_full(self: Session) -> None:
            raise OperationalError("UPDATE iceberg_tables", {}, OSError(28, "disk full"))

        monkeypatch.setattr(Session, "commit", disk_full)
        return pa.table({"id": [1, 2, 3]})
    if kind in ("parquet", "s3"):
        import pyarrow.parquet as pq

        def half_written(table: pa.Table, where: str, filesystem: Any = None, **_: Any) -> None:
            if filesystem is None:
                Path(where).write_bytes(b"PAR1 half a file")
            else:
                with filesystem.open_output_stream(where) as out:
                    out.write(b"PAR1 half a file")
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(pq, "write_table", half_written)
    else:
        from potluck.connectors.jsonl import connector as module

        real = module._encode_lines

        def one_line_then_fail(data: pa.Table) -> Iterator[bytes]:
            yield next(real(data))
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(module, "_encode_lines", one_line_then_fail)
    return pa.table({"id": [1, 2, 3]})


def test_failed_replace_keeps_the_old_table(
    connector: Connector,
    kind: str,
    sample: pa.Table,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connector.write("measurements", sample)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    doomed = _break_the_next_write(kind, monkeypatch)
    with pytest.raises(SourceError) as raised:
        connector.write("measurements", doomed)
    assert (raised.value.source, raised.value.connector) == (SOURCE, kind)
    monkeypatch.undo()
    assert connector.read(ReadRequest("measurements")).equals(sample)
    assert connector.schema("measurements") == sample.schema
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # no temp files left


def test_missing_table_is_a_source_error(connector: Connector, kind: str, sample: pa.Table) -> None:
    for prepare in (False, True):  # before anything exists, and next to another table
        if prepare:
            connector.write("other", sample)
        with pytest.raises(SourceError, match="'nope' is missing") as raised:
            connector.read(ReadRequest("nope"))
        assert not isinstance(raised.value, SourceSchemaError)
        assert (raised.value.source, raised.value.connector) == (SOURCE, kind)
        assert SOURCE in raised.value.message and kind in raised.value.message
        with pytest.raises(SourceError, match="'nope' is missing"):
            connector.schema("nope")


def test_missing_columns_are_all_listed(connector: Connector, sample: pa.Table) -> None:
    connector.write("measurements", sample)
    request = ReadRequest(
        "measurements", columns=["patient_id", "ghost"], key_column="phantom", keys=["P1"],
        timestamp_column="visit_date",
    )  # fmt: skip
    with pytest.raises(SourceSchemaError) as raised:
        connector.read(request)
    listed = raised.value.detail.split("(it has")[0]
    assert "ghost, phantom" in listed
    assert "patient_id" not in listed and "visit_date" not in listed


def test_malformed_requests_are_request_errors(connector: Connector, sample: pa.Table) -> None:
    connector.write("measurements", sample)
    with pytest.raises(RequestError, match="without a key_column"):
        connector.read(ReadRequest("measurements", keys=["P1"]))
    with pytest.raises(RequestError, match="without a timestamp_column"):
        connector.read(ReadRequest("measurements", start=T0))
    with pytest.raises(RequestError, match="not one string"):
        connector.read(ReadRequest("measurements", key_column="patient_id", keys="P1"))
    with pytest.raises(RequestError, match="more than once"):
        connector.read(ReadRequest("measurements", columns=["note", "note"]))
    with pytest.raises(SourceSchemaError, match="not a timestamp"):
        connector.read(ReadRequest("measurements", timestamp_column="born", start=T0))
    with pytest.raises(RequestError, match="unknown write mode"):
        connector.write("measurements", sample, mode="upsert")  # type: ignore[arg-type]


def test_unknown_kind_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="unknown connector kind 'oracle'") as raised:
        open_connector(SOURCE, "oracle", {"path": str(tmp_path)})
    assert SOURCE in raised.value.message


@pytest.mark.parametrize("bad", [{}, {"unexpected": 1}, {"path": None, "root": None}])
def test_invalid_options_are_configuration_errors(kind: str, bad: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError) as raised:
        open_connector(SOURCE, kind, bad)
    assert f"source '{SOURCE}' ({kind} connector): invalid options" in raised.value.message


def test_hostile_names_round_trip_and_inject_nothing(connector: Connector) -> None:
    victims = pa.table({"id": [1, 2]})
    connector.write("victims", victims)
    table = 'x"; DROP TABLE victims; --'
    data = pa.table(
        {
            'a"b': ["k1", "k2", "k1"],
            "c; DROP TABLE victims; --": [1, 2, 3],
            "d') OR 1=1 --": pa.array([T0, T1, T0], TS),
            "select": ["s1", "s2", "s3"],
        }
    )
    connector.write(table, data)
    request = ReadRequest(
        table, columns=["select", "c; DROP TABLE victims; --"], key_column='a"b',
        keys=["k1", "x' OR '1'='1"], timestamp_column="d') OR 1=1 --", start=T0, end=T0,
    )  # fmt: skip
    result = connector.read(request)
    assert result.to_pydict() == {"select": ["s1", "s3"], "c; DROP TABLE victims; --": [1, 3]}
    assert connector.read(ReadRequest(table)).equals(data)
    assert connector.read(ReadRequest("victims")).equals(victims)


def test_ping_succeeds_before_and_after_writing(connector: Connector, sample: pa.Table) -> None:
    connector.ping()
    connector.write("measurements", sample)
    connector.ping()
    assert connector.read(ReadRequest("measurements", columns=[])).num_rows == sample.num_rows


def _many_rows(n: int) -> pa.Table:
    return pa.table(
        {
            "patient_id": [f"P{i % 97:03d}" for i in range(n)],
            "visit_date": pa.array([T0 + timedelta(hours=i) for i in range(n)], TS),
            "bmi": [float(i) for i in range(n)],
        }
    )


@pytest.mark.parametrize(
    "request_args",
    [
        {},  # everything
        {"columns": ["bmi"]},  # the predicate's columns are not among the ones asked for
        {
            "columns": ["bmi", "patient_id"],
            "key_column": "patient_id",
            "keys": ["P001", "P050", "P404"],
            "timestamp_column": "visit_date",
            "start": T0 + timedelta(hours=100),
            "end": T0 + timedelta(hours=900),
        },
        {"key_column": "patient_id", "keys": ["nobody"]},  # nothing matches
    ],
    ids=["all", "projection", "keys-and-window", "empty"],
)
def test_a_lean_read_returns_what_a_default_read_returns(
    connector: Connector, request_args: dict[str, Any]
) -> None:
    """``lean`` (bounded memory, one thread: what materialization asks for) changes how a
    connector reads, never what it returns."""
    connector.write("many", _many_rows(1500))
    default = connector.read(ReadRequest("many", **request_args))
    lean = connector.read(ReadRequest("many", lean=True, **request_args))
    assert lean.schema == default.schema
    assert lean.equals(default)
    if request_args.get("keys") == ["nobody"]:
        assert lean.num_rows == 0
    elif "keys" in request_args:
        assert 0 < lean.num_rows < 1500


@pytest.mark.parametrize(
    "request_args",
    [
        {},
        {
            "columns": ["bmi", "patient_id"],
            "timestamp_column": "visit_date",
            "start": T0 + timedelta(hours=100),
            "end": T0 + timedelta(hours=900),
        },
        {"key_column": "patient_id", "keys": ["nobody"]},
    ],
    ids=["all", "projection-and-window", "empty"],
)
def test_a_scan_streams_what_a_read_returns(
    connector: Connector, request_args: dict[str, Any]
) -> None:
    """``scan`` is either declined (None: keyed reads suit the backend) or yields, in
    batches, exactly the rows and schema ``read`` returns, in the same order. Backends
    that find keys by scanning files stream; the others decline."""
    connector.write("many", _many_rows(1500))
    request = ReadRequest("many", lean=True, **request_args)
    batches = connector.scan(request)
    streaming = ("ParquetConnector", "S3Connector", "JsonlConnector", "IcebergConnector")
    streams = type(connector).__name__ in streaming
    assert (batches is not None) == streams
    if batches is None:
        return
    read = connector.read(request)
    streamed = pa.Table.from_batches(list(batches), schema=read.schema)
    assert streamed.equals(read)
    assert streamed.num_rows == (0 if "keys" in request_args else read.num_rows)


def test_a_refused_write_leaves_the_table_as_it_was(connector: Connector, sample: pa.Table) -> None:
    """Mode, name and data are validated before the backend is touched (the base
    ``write``), whichever backend: the table written before is still all there."""
    connector.write("kept", sample)
    no_columns = pa.table({})
    twice = pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["a", "a"])
    refused: list[tuple[str, pa.Table, Any]] = [
        ("kept", sample, "merge"),  # unknown mode
        ("kept", no_columns, "replace"),
        ("kept", twice, "replace"),
        ("kept", twice, "append"),
    ]
    for table, data, mode in refused:
        with pytest.raises((RequestError, SourceError)):
            connector.write(table, data, mode=mode)
    assert connector.read(ReadRequest("kept")).equals(sample)
    with pytest.raises(SourceError):
        connector.write("", sample)  # no backend holds a table without a name
