"""SQL Server connector: its statements compiled by the mssql dialect, and run on SQLite.

No SQL Server runs here. What is checked: the exact T-SQL text and parameters the
connector's Core statements compile to (bracket-quoted identifiers, bound keys and
window, the #temp key table), the SQL actually sent when the same statements run on a
SQLite engine standing in for the server, the ODBC URL, and that the real pyodbc +
FreeTDS driver turns an unreachable server into a SourceError.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from sqlalchemy import Engine, event
from sqlalchemy.dialects import mssql
from sqlalchemy.schema import CreateTable
from tests.unit.connectors import test_connector_contract as contract
from tests.unit.connectors_fakes.conftest import sqlite_standin

from potluck.connectors import ReadRequest, open_connector
from potluck.connectors.mssql import MssqlConfig, MssqlConnector
from potluck.connectors.mssql import _statements as sql
from potluck.errors import ConfigurationError, SourceError, SourceSchemaError

TS = pa.timestamp("us", "UTC")
T0 = datetime(2024, 1, 1, tzinfo=UTC)
T1 = datetime(2024, 1, 31, tzinfo=UTC)
DIALECT = mssql.pyodbc.dialect()
HOSTILE = "x]; DROP TABLE victims; --"

# The contract's microsecond-edge tests, which SQL Server's DATETIME2(6) passes (MongoDB's
# millisecond dates do not): run here against the mssql stand-in only.
test_timestamps_are_normalised_to_utc_microseconds = (
    contract.test_timestamps_are_normalised_to_utc_microseconds
)
test_time_window_is_inclusive_at_both_edges = contract.test_time_window_is_inclusive_at_both_edges
test_naive_and_offset_bounds_mean_the_same_instant = (
    contract.test_naive_and_offset_bounds_mean_the_same_instant
)
test_key_window_and_projection_combine = contract.test_key_window_and_projection_combine


@pytest.fixture
def kind() -> str:
    return "mssql"


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    standin: Engine = sqlite_standin(tmp_path)
    return standin


@pytest.fixture
def mssql_connector(engine: Engine) -> MssqlConnector:
    config = MssqlConfig(batch_size=2)
    return MssqlConnector("hospital_administration", config, engine=engine)


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """Every (SQL, parameters) the connector sends to the stand-in."""
    sent: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        sent.append((statement, params))

    event.listen(engine, "before_cursor_execute", record)
    yield sent
    event.remove(engine, "before_cursor_execute", record)


def _visits() -> pa.Table:
    return pa.table(
        {
            "patient_id": ["P1", "P2", "P3", "P1"],
            "admission_date": pa.array(
                [T0 - timedelta(microseconds=1), T0, T1, T1 + timedelta(microseconds=1)], TS
            ),
            "department": ["Neurology", "ICU", "Cardiology", "ICU"],
        }
    )


def _compiled(statement: Any, **params: Any) -> tuple[str, dict[str, Any]]:
    compiled = statement.compile(dialect=DIALECT)
    return str(compiled), dict(compiled.params, **params)


def test_read_compiles_to_tsql_with_bound_keys_and_window() -> None:
    table = sql.data_table("admissions", _visits().schema, "dbo", ordered=True)
    request = ReadRequest(
        "admissions", columns=["department"], key_column="patient_id", keys=["P1"],
        timestamp_column="admission_date", start=T0, end=T1,
    )  # fmt: skip
    text, params = _compiled(sql.select_rows(table, ["department"], request, ordered=True))
    assert " ".join(text.split()) == (
        "SELECT [dbo].[admissions].[department] FROM [dbo].[admissions] "
        "WHERE [dbo].[admissions].[patient_id] IN (__[POSTCOMPILE_keys]) "
        "AND [dbo].[admissions].[admission_date] >= :window_start "
        "AND [dbo].[admissions].[admission_date] <= :window_end "
        "ORDER BY [dbo].[admissions].[__potluck_row]"
    )
    assert set(params) == {"keys", "window_start", "window_end"}


def test_hostile_identifiers_are_bracket_quoted_and_values_bound() -> None:
    schema = pa.schema([('a"b', pa.string()), ("c]; DELETE FROM t; --", TS)])
    table = sql.data_table(HOSTILE, schema, "dbo", ordered=False)
    request = ReadRequest(
        HOSTILE, columns=['a"b'], key_column='a"b', keys=["x' OR '1'='1"],
        timestamp_column="c]; DELETE FROM t; --", start=T0,
    )  # fmt: skip
    text, _ = _compiled(sql.select_rows(table, ['a"b'], request, ordered=False))
    assert "FROM [dbo].[x]]; DROP TABLE victims; --]" in text
    assert '[a"b] IN (__[POSTCOMPILE_keys])' in text
    assert "[c]]; DELETE FROM t; --] >= :window_start" in text
    assert "OR '1'='1" not in text  # the key is a parameter, never SQL text
    create = " ".join(str(CreateTable(table).compile(dialect=DIALECT)).split())
    assert create.startswith("CREATE TABLE [dbo].[x]]; DROP TABLE victims; --] (")


def test_create_table_uses_exact_sql_server_types() -> None:
    schema = pa.schema(
        [("t", TS), ("f", pa.float64()), ("r", pa.float32()), ("i", pa.int64()),
         ("b", pa.bool_()), ("d", pa.date32()), ("s", pa.string()), ("y", pa.binary())]
    )  # fmt: skip
    create = " ".join(
        str(
            CreateTable(sql.data_table("t", schema, "dbo", ordered=True)).compile(dialect=DIALECT)
        ).split()
    )
    for column in ("[t] DATETIME2(6)", "[f] FLOAT(53)", "[r] REAL", "[i] BIGINT", "[b] BIT",
                   "[d] DATE", "[s] NVARCHAR(max)", "[y] VARBINARY(max)",
                   "[__potluck_row] BIGINT NOT NULL"):  # fmt: skip
        assert column in create


def test_many_keys_go_through_a_temp_table() -> None:
    keys = sql.keys_table("abc", mssql.NVARCHAR())
    table = sql.data_table("admissions", _visits().schema, "dbo", ordered=True)
    request = ReadRequest("admissions", columns=["department"], key_column="patient_id", keys=["P"])
    text, _ = _compiled(sql.select_rows(table, ["department"], request, keys=keys, ordered=True))
    text = " ".join(text.split())
    assert "[patient_id] IN (SELECT [#potluck_keys_abc].k FROM [#potluck_keys_abc])" in text
    assert "POSTCOMPILE" not in text


def test_the_statements_sent_carry_the_keys_and_window_as_parameters(
    mssql_connector: MssqlConnector, statements: list[tuple[str, Any]]
) -> None:
    mssql_connector.write("admissions", _visits())
    statements.clear()
    request = ReadRequest(
        "admissions", columns=["department"], key_column="patient_id", keys=["P1", "P3"],
        timestamp_column="admission_date", start=T0, end=T1,
    )  # fmt: skip
    assert mssql_connector.read(request).to_pydict() == {"department": ["Cardiology"]}
    select_sql, params = next((s, p) for s, p in statements if "IN (?" in s)
    assert re.search(r'"patient_id" IN \(\?, \?\)', select_sql)
    assert '"admission_date" >= ? AND "dbo"."admissions"."admission_date" <= ?' in select_sql
    assert list(params) == ["P1", "P3", "2024-01-01 00:00:00.000000", "2024-01-31 00:00:00.000000"]


def test_more_keys_than_sql_server_parameters_use_a_dropped_temp_table(
    mssql_connector: MssqlConnector, statements: list[tuple[str, Any]], engine: Engine
) -> None:
    mssql_connector.write("admissions", _visits())
    statements.clear()
    keys = [f"Q{i}" for i in range(sql.MAX_BOUND_KEYS + 500)] + ["P2"]
    result = mssql_connector.read(
        ReadRequest("admissions", columns=["department"], key_column="patient_id", keys=keys)
    )
    assert result.to_pydict() == {"department": ["ICU"]}
    sent = [s for s, _ in statements]
    assert any(s.startswith('\nCREATE TABLE "#potluck_keys_') for s in sent)
    select_sql = next(s for s in sent if s.startswith("SELECT") and "#potluck_keys_" in s)
    assert select_sql.count("?") == 0  # no key is spliced in or bound one by one
    assert any(s.startswith('\nDROP TABLE "#potluck_keys_') for s in sent)
    from sqlalchemy import inspect

    assert not [t for t in inspect(engine).get_table_names() if t.startswith("#")]


def test_failed_replace_rolls_back_to_the_old_table(
    mssql_connector: MssqlConnector, monkeypatch: pytest.MonkeyPatch
) -> None:
    mssql_connector.write("admissions", _visits())
    real = MssqlConnector._insert

    def half_then_fail(
        self: MssqlConnector, conn: Any, target: Any, data: pa.Table, offset: int
    ) -> None:
        real(self, conn, target, data.slice(0, 1), offset)
        raise OverflowError("int too big to convert")

    monkeypatch.setattr(MssqlConnector, "_insert", half_then_fail)
    with pytest.raises(SourceError, match="OverflowError") as raised:
        mssql_connector.write("admissions", pa.table({"x": [1, 2]}))
    assert raised.value.source == "hospital_administration"
    monkeypatch.undo()
    assert mssql_connector.read(ReadRequest("admissions")).equals(_visits())


def test_nan_is_stored_as_null_and_infinity_refused(mssql_connector: MssqlConnector) -> None:
    mssql_connector.write("f", pa.table({"v": [1.5, float("nan"), None]}))
    assert mssql_connector.read(ReadRequest("f")).column("v").to_pylist() == [1.5, None, None]
    with pytest.raises(SourceSchemaError, match="infinity"):
        mssql_connector.write("f", pa.table({"v": [float("inf")]}))


def test_tables_written_by_others_are_reflected(
    mssql_connector: MssqlConnector, engine: Engine
) -> None:
    from sqlalchemy import text

    with engine.begin() as conn:
        conn.execute(text('CREATE TABLE dbo."legacy" (pid VARCHAR(10), n INTEGER, at DATETIME)'))
        conn.execute(text("INSERT INTO dbo.\"legacy\" VALUES ('P1', 3, '2024-01-01 10:00:00')"))
    assert mssql_connector.schema("legacy") == pa.schema(
        [("pid", pa.string()), ("n", pa.int64()), ("at", TS)]
    )
    result = mssql_connector.read(ReadRequest("legacy", key_column="pid", keys=["P1"]))
    assert result.to_pydict() == {
        "pid": ["P1"],
        "n": [3],
        "at": [datetime(2024, 1, 1, 10, tzinfo=UTC)],
    }
    with pytest.raises(SourceError, match="not written by potluck"):
        mssql_connector.write("legacy", result, mode="append")


def test_odbc_url_names_the_driver_and_escapes_the_password() -> None:
    config = MssqlConfig(host="db.internal", password="p@ss;word/", database="hospital")
    url = config.url()
    assert url.drivername == "mssql+pyodbc"
    assert url.password == "p@ss;word/"
    assert dict(url.query) == {"driver": "FreeTDS", "LoginTimeout": "5", "TDS_Version": "7.4"}
    rendered = url.render_as_string(hide_password=True)
    assert rendered.startswith("mssql+pyodbc://sa:***@db.internal:1433/hospital?")
    microsoft = MssqlConfig(driver="ODBC Driver 18 for SQL Server", odbc={"Encrypt": "yes"}).url()
    assert "TDS_Version" not in microsoft.query and microsoft.query["Encrypt"] == "yes"


@pytest.mark.parametrize("bad", [{"unexpected": 1}, {"port": 0}, {"batch_size": "many"}])
def test_invalid_options_are_configuration_errors(bad: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError, match=r"source 'demo' \(mssql connector\): invalid"):
        open_connector("demo", "mssql", bad)


def test_an_unreachable_server_fails_through_the_real_odbc_driver() -> None:
    from potluck.devservices import free_port

    connector = open_connector(
        "hospital_administration", "mssql", {"port": free_port(), "login_timeout": 2}
    )
    with pytest.raises(SourceError) as raised:
        connector.ping()
    assert "source 'hospital_administration' (mssql connector)" in raised.value.message
    assert "DBAPIError" in raised.value.message or "OperationalError" in raised.value.message
    connector.close()
