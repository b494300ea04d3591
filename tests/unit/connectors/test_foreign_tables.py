"""Tables potluck did not write: read with their own types, or refused with how to fix it.

A ``pandas.to_sql`` SQLite table (naive timestamps stored as text), a Parquet file with
naive or nanosecond timestamps (``DataFrame.to_parquet``), JSON lines without potluck's
schema sidecar.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from potluck.connectors import ReadRequest, open_connector
from potluck.errors import SourceSchemaError

TS = pa.timestamp("us", "UTC")
T0 = datetime(2024, 1, 2, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _sqlite_globals() -> Iterator[None]:
    """``DataFrame.to_sql`` re-registers the sqlite3 module's *global* ``timestamp``
    converter and datetime adapter (ISO text); Feast's SQLite online store registers its
    own (epoch seconds) and reads with them. Left changed, every later Feast online read in
    this test process fails on its own timestamps: restore what was there."""
    converters, adapters = dict(sqlite3.converters), dict(sqlite3.adapters)
    yield
    sqlite3.converters.clear()
    sqlite3.converters.update(converters)
    sqlite3.adapters.clear()
    sqlite3.adapters.update(adapters)


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            "n": [1, 2, 3],
            "x": [1.5, None, 2.0],
            "t": pd.to_datetime(
                ["2024-01-01 10:00", "2024-01-02 00:00", "2024-01-03 12:30:00.123456789"],
                format="ISO8601",
            ),
            "flag": [True, False, True],
        }
    )


def test_pandas_to_sql_table_reads_with_its_declared_types(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    with sqlite3.connect(db) as conn:
        frame().to_sql("visits", conn, index=False)
        conn.execute("CREATE TABLE days (id TEXT, d DATE, at DATETIME, big BIGINT, ok BOOLEAN)")
        conn.execute(
            "INSERT INTO days VALUES ('a', '2024-02-03', '2024-02-03T04:05:06+02:00', 7, 1)"
        )
    sqlite = open_connector("clinical", "sqlite", {"path": str(db)})
    assert sqlite.schema("visits") == pa.schema(
        [
            ("id", pa.string()),
            ("n", pa.int64()),
            ("x", pa.float64()),
            ("t", TS),
            ("flag", pa.int64()),
        ]
    )
    table = sqlite.read(ReadRequest("visits"))
    assert table["t"].to_pylist() == [
        datetime(2024, 1, 1, 10, tzinfo=UTC),
        T0,
        datetime(2024, 1, 3, 12, 30, 0, 123456, tzinfo=UTC),
    ]
    assert table["x"].to_pylist() == [1.5, None, 2.0]
    # keys pushed into SQL, the window applied to the parsed times
    some = sqlite.read(
        ReadRequest("visits", columns=["id"], key_column="id", keys=["a", "b", "c"],
                    timestamp_column="t", start=T0)
    )  # fmt: skip
    assert some.to_pydict() == {"id": ["b", "c"]}
    days = sqlite.read(ReadRequest("days")).to_pylist()
    assert days == [
        {"id": "a", "d": date(2024, 2, 3), "at": datetime(2024, 2, 3, 2, 5, 6, tzinfo=UTC),
         "big": 7, "ok": True}
    ]  # fmt: skip


def test_foreign_sqlite_values_that_do_not_fit_are_refused_with_a_fix(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE t1 (id TEXT, at TIMESTAMP)")
        conn.execute("INSERT INTO t1 VALUES ('a', '2024-01-01'), ('b', 'last tuesday')")
        conn.execute("CREATE TABLE t2 (id TEXT, n INTEGER)")
        conn.execute("INSERT INTO t2 VALUES ('a', 1), ('b', 'many')")
        conn.execute("CREATE TABLE t3 (id TEXT, blob)")
        conn.execute("CREATE TABLE t4 (id TEXT, at TIMESTAMP)")
        conn.execute("INSERT INTO t4 VALUES ('a', 1704067200)")
    sqlite = open_connector("clinical", "sqlite", {"path": str(db)})
    cases = {
        "t1": "column 'at' is declared timestamp[us, tz=UTC] but row 2 holds 'last tuesday'",
        "t2": "column 'n' is declared int64 but row 2 holds 'many'",
        "t3": "column(s) blob (no type) declare no type potluck can read",
        "t4": "column 'at' is declared timestamp[us, tz=UTC] but row 1 holds 1704067200",
    }
    for table, message in cases.items():
        with pytest.raises(SourceSchemaError) as exc:
            sqlite.read(ReadRequest(table))
        assert message in str(exc.value)
        assert "`potluck load SOURCE FILE`" in str(exc.value)
    with pytest.raises(SourceSchemaError, match="can be read but not appended to"):
        sqlite.write("t2", pa.table({"id": ["c"], "n": [3]}), mode="append")
    sqlite.write("t2", pa.table({"id": ["c"], "n": [3]}), mode="replace")
    assert sqlite.read(ReadRequest("t2")).to_pydict() == {"id": ["c"], "n": [3]}


@pytest.mark.parametrize("unit", ["ns", "naive-us", "ns-zoned"])
def test_parquet_with_naive_or_nanosecond_timestamps(tmp_path: Path, unit: str) -> None:
    data = frame()
    if unit == "naive-us":
        data["t"] = data["t"].astype("datetime64[us]")
    if unit == "ns-zoned":
        data["t"] = data["t"].dt.tz_localize("UTC").dt.tz_convert("Europe/Paris")
    data.to_parquet(tmp_path / "visits.parquet")
    parquet = open_connector("lifestyle", "parquet", {"root": str(tmp_path)})
    assert parquet.schema("visits").field("t").type == TS
    table = parquet.read(ReadRequest("visits"))
    assert table.schema.field("t").type == TS
    assert table["t"].to_pylist()[2] == datetime(2024, 1, 3, 12, 30, 0, 123456, tzinfo=UTC)
    window = ReadRequest("visits", columns=["id"], timestamp_column="t", start=T0, end=T0)
    assert parquet.read(window).to_pydict() == {"id": ["b"]}
    lean = ReadRequest("visits", columns=["id", "t"], timestamp_column="t", start=T0, lean=True)
    assert parquet.read(lean)["t"].type == TS
    batches = list(parquet.scan(ReadRequest("visits")) or [])
    assert pa.Table.from_batches(batches).schema == parquet.schema("visits")
    # appending potluck's data to a pandas file keeps one consistent type
    parquet.write("visits", table.slice(0, 1), mode="append")
    assert pq.read_schema(tmp_path / "visits.parquet").field("t").type == TS
    assert parquet.read(ReadRequest("visits")).num_rows == 4


def test_json_lines_without_a_sidecar_are_inferred(tmp_path: Path) -> None:
    rows = [
        {"id": "a", "n": 1, "t": "2024-01-01T10:00:00", "z": "2024-01-01T10:00:00+02:00",
         "address": {"city": "X"}},
        {"id": "b", "n": 2, "t": "2024-01-02 00:00:00", "z": "2024-01-02T00:00:00Z",
         "address": {"city": "Y"}},
    ]  # fmt: skip
    (tmp_path / "people.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    jsonl = open_connector("demographics", "jsonl", {"root": str(tmp_path)})
    schema = jsonl.schema("people")
    assert schema == pa.schema(
        [
            ("id", pa.string()),
            ("n", pa.int64()),
            ("t", TS),
            ("z", TS),
            ("address.city", pa.string()),
        ]
    )
    table = jsonl.read(ReadRequest("people", key_column="n", keys=["2"]))
    assert table.to_pylist() == [{"id": "b", "n": 2, "t": T0, "z": T0, "address.city": "Y"}]
    window = jsonl.read(ReadRequest("people", columns=["id"], timestamp_column="z", end=T0))
    assert window.to_pydict() == {"id": ["a", "b"]}


def test_json_lines_that_disagree_on_types_say_how_to_fix(tmp_path: Path) -> None:
    (tmp_path / "people.jsonl").write_text('{"id": "a", "n": 1}\n{"id": "b", "n": "two"}\n')
    jsonl = open_connector("demographics", "jsonl", {"root": str(tmp_path)})
    with pytest.raises(SourceSchemaError) as exc:
        jsonl.read(ReadRequest("people"))
    message = str(exc.value)
    assert "no schema sidecar and its documents do not agree on types" in message
    assert "changed from number to string" in message
    assert "write people.schema.json" in message
    # the fix it names works: a hand-written sidecar types the column
    (tmp_path / "people.jsonl").write_text('{"id": "a", "n": 1}\n{"id": "b", "n": 2.5}\n')
    (tmp_path / "people.schema.json").write_text(
        json.dumps({"columns": [{"name": "id", "type": "string"}, {"name": "n", "type": "double"}]})
    )
    assert jsonl.read(ReadRequest("people")).to_pydict() == {"id": ["a", "b"], "n": [1.0, 2.5]}
