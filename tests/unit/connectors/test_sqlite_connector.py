"""SQLite specifics: storage layout, pushdown into SQL, metadata, driver errors."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
import pytest

from potluck.connectors import ReadRequest, open_connector
from potluck.connectors.sqlite import SqliteConnector
from potluck.errors import ConfigurationError, SourceError, SourceSchemaError

TS = pa.timestamp("us", "UTC")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "nested" / "potluck.db"


@pytest.fixture
def sqlite(db: Path) -> SqliteConnector:
    connector = open_connector("clinical", "sqlite", {"path": str(db)})
    assert isinstance(connector, SqliteConnector)
    return connector


class RecordingConnection(sqlite3.Connection):
    """Records every statement and its parameters (sqlite3.Connection is a C type)."""

    statements: ClassVar[list[tuple[str, Any]]] = []

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        RecordingConnection.statements.append((sql, parameters))
        return super().execute(sql, parameters)


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    real = sqlite3.connect
    RecordingConnection.statements = []
    monkeypatch.setattr(
        sqlite3, "connect", lambda *a, **k: real(*a, factory=RecordingConnection, **k)
    )
    return RecordingConnection.statements


def test_timestamps_and_dates_are_stored_as_integers(sqlite: SqliteConnector, db: Path) -> None:
    moment = datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    sqlite.write("v", pa.table({"t": pa.array([moment], TS), "d": pa.array([date(1970, 1, 3)])}))
    with sqlite3.connect(db) as conn:
        row = conn.execute('SELECT "t", typeof("t"), "d", typeof("d") FROM "v"').fetchone()
        meta = conn.execute(
            "SELECT arrow_schema_json FROM _potluck_schema WHERE table_name='v'"
        ).fetchone()
    assert row == (1_704_164_645_678_901, "integer", 2, "integer")
    assert [c["type"] for c in json.loads(meta[0])["columns"]] == [
        "timestamp[us, tz=UTC]",
        "date32[day]",
    ]


def test_keys_travel_as_one_json_parameter(
    sqlite: SqliteConnector, recorded: list[tuple[str, Any]]
) -> None:
    keys = [f"P{i:08d}" for i in range(5000)] + ["x' OR '1'='1"]
    sqlite.write("v", pa.table({"k": ["P00000007", "x' OR '1'='1", "other"], "n": [1, 2, 3]}))
    result = sqlite.read(ReadRequest("v", columns=["n"], key_column="k", keys=keys))
    assert result.column("n").to_pylist() == [1, 2]
    select = [(sql, params) for sql, params in recorded if sql.startswith('SELECT "n"')]
    assert len(select) == 1
    sql, params = select[0]
    assert "IN (SELECT value FROM json_each(?))" in sql
    assert "P00000007" not in sql and "OR '1'" not in sql
    assert json.loads(params[0]) == keys


def test_time_window_is_bound_as_integer_parameters(
    sqlite: SqliteConnector, recorded: list[tuple[str, Any]]
) -> None:
    start, end = (
        datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC),
        datetime(1970, 1, 1, 0, 0, 2, tzinfo=UTC),
    )
    sqlite.write("v", pa.table({"t": pa.array([start, end], TS)}))
    sqlite.read(ReadRequest("v", timestamp_column="t", start=start, end=end))
    ((sql, params),) = [(s, p) for s, p in recorded if s.startswith('SELECT "t"')]
    assert '"t" >= ? AND "t" <= ?' in sql
    assert params == [1_000_000, 2_000_000]


def test_failed_replace_rolls_back_inside_executemany(sqlite: SqliteConnector) -> None:
    old = pa.table({"id": pa.array([7], pa.int64())})
    sqlite.write("v", old)
    with pytest.raises(SourceError) as raised:
        sqlite.write("v", pa.table({"id": pa.array([1, 2**64 - 1], pa.uint64())}))
    assert isinstance(raised.value.__cause__, OverflowError)
    assert sqlite.read(ReadRequest("v")).equals(old)
    assert sqlite.schema("v") == old.schema


def test_reads_never_create_the_database(sqlite: SqliteConnector, db: Path) -> None:
    with pytest.raises(SourceError, match="'v' is missing"):
        sqlite.read(ReadRequest("v"))
    assert not db.exists() and not db.parent.exists()
    sqlite.ping()  # the folder can still be created
    assert not db.exists()


def test_table_names_are_case_insensitive_like_sqlite(sqlite: SqliteConnector) -> None:
    sqlite.write("Vitals", pa.table({"a": [1]}))
    sqlite.write("VITALS", pa.table({"b": ["x"]}))
    assert sqlite.read(ReadRequest("vitals")).to_pydict() == {"b": ["x"]}


def test_unstorable_types_and_names_are_refused(sqlite: SqliteConnector) -> None:
    with pytest.raises(SourceSchemaError, match=r"l \(list<item: int64>\)"):
        sqlite.write("v", pa.table({"l": [[1, 2]]}))
    with pytest.raises(SourceSchemaError, match="duplicate column"):
        sqlite.write("v", pa.table({"a": [1], "A": [2]}))
    with pytest.raises(SourceError, match="reserved"):
        sqlite.write("_POTLUCK_SCHEMA", pa.table({"a": [1]}))


def test_write_order_survives_columns_named_like_rowid(sqlite: SqliteConnector) -> None:
    data = pa.table({"rowid": [3, 2, 1], "OID": [9, 8, 7], "v": ["a", "b", "c"]})
    sqlite.write("v", data)
    assert sqlite.read(ReadRequest("v", key_column="v", keys=["c", "a"])).equals(data.take([0, 2]))


def test_nan_is_stored_as_null(sqlite: SqliteConnector) -> None:
    sqlite.write("v", pa.table({"f": [float("nan"), float("inf"), 1.5]}))
    assert sqlite.read(ReadRequest("v")).column("f").to_pylist() == [None, float("inf"), 1.5]


def test_tables_not_written_by_potluck_are_read_but_not_appended_to(
    sqlite: SqliteConnector, db: Path
) -> None:
    sqlite.write("v", pa.table({"a": [1]}))
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE foreign_table (x INTEGER)")
    assert sqlite.read(ReadRequest("foreign_table")).schema == pa.schema([("x", pa.int64())])
    with pytest.raises(SourceSchemaError, match="not written by potluck"):
        sqlite.write("foreign_table", pa.table({"x": [1]}), mode="append")


def test_a_file_that_is_not_a_database_is_a_source_error(sqlite: SqliteConnector, db: Path) -> None:
    db.parent.mkdir(parents=True)
    db.write_bytes(b"definitely not sqlite" * 100)
    for call in (sqlite.ping, lambda: sqlite.read(ReadRequest("v"))):
        with pytest.raises(SourceError, match="DatabaseError") as raised:
            call()
        assert raised.value.connector == "sqlite" and raised.value.source == "clinical"


@pytest.mark.parametrize("path", [":memory:", ""])
def test_in_memory_databases_are_refused(path: str) -> None:
    with pytest.raises(ConfigurationError, match="in-memory"):
        open_connector("clinical", "sqlite", {"path": path})
