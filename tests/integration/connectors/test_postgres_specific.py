"""PostgreSQL specifics beyond the shared contract: what is sent, what is stored, failures."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pyarrow as pa
import pytest

from potluck.connectors import ReadRequest, open_connector
from potluck.connectors.postgres import PostgresConnector
from potluck.devservices import Server, free_port
from potluck.errors import SourceError

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("postgres")]

SOURCE = "clinical_measurements"
TS = pa.timestamp("us", "UTC")
T0 = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture
def options(postgres_server: Server) -> dict[str, Any]:
    return {
        "host": postgres_server.host,
        "port": postgres_server.port,
        "database": "potluck",
        "schema_name": f"t_{uuid.uuid4().hex[:12]}",
        "sslmode": "disable",
    }


@pytest.fixture
def pg(options: dict[str, Any]) -> PostgresConnector:
    connector = open_connector(SOURCE, "postgres", options)
    assert isinstance(connector, PostgresConnector)
    return connector


def _visits(n: int = 50) -> pa.Table:
    return pa.table(
        {
            "patient_id": [f"P{i % 10:08d}" for i in range(n)],
            "visit_date": pa.array([T0 + timedelta(days=i) for i in range(n)], TS),
            "bmi": [20.0 + i for i in range(n)],
        }
    )


def _query(options: dict[str, Any], sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Ask the server directly (psycopg), not through the connector under test."""
    with psycopg.connect(
        host=options["host"], port=options["port"], user="postgres", dbname="potluck"
    ) as conn:
        return conn.execute(sql, params).fetchall()


def test_the_statement_carries_key_and_time_predicates_as_parameters(
    pg: PostgresConnector, caplog: pytest.LogCaptureFixture
) -> None:
    pg.write("visits", _visits())
    start, end = T0 + timedelta(days=5), T0 + timedelta(days=30)
    request = ReadRequest(
        "visits", columns=["patient_id", "bmi"], key_column="patient_id",
        keys=["P00000001", "P00000002"], timestamp_column="visit_date", start=start, end=end,
    )  # fmt: skip
    with caplog.at_level(logging.DEBUG, logger="potluck.connectors.postgres"):
        result = pg.read(request)
    sent = pg.last_statement
    assert sent is not None
    assert '"patient_id" = ANY($1)' in sent.sql
    assert '"visit_date" >= $2' in sent.sql and '"visit_date" <= $3' in sent.sql
    assert sent.sql.startswith('SELECT "patient_id", "bmi", "_potluck_row" FROM')
    assert sent.parameters == {"$1": ["P00000001", "P00000002"], "$2": start, "$3": end}
    assert "P00000001" not in sent.sql  # values travel as parameters, never as SQL text
    assert any("= ANY($1)" in r.getMessage() for r in caplog.records)
    # the server did the filtering: exactly the rows inside the request
    assert result.column("bmi").to_pylist() == [31.0, 32.0, 41.0, 42.0]  # days 11, 12, 21, 22


def test_many_keys_are_still_one_array_parameter(pg: PostgresConnector) -> None:
    pg.write("visits", _visits())
    texts = set()
    for count in (2_000, 20_000):  # beyond 1,000 keys: a semi-join on the unnested array
        keys = [f"P{i:08d}" for i in range(count)]
        result = pg.read(ReadRequest("visits", key_column="patient_id", keys=keys))
        assert pg.last_statement is not None
        texts.add(pg.last_statement.sql)
        assert pg.last_statement.parameters["$1"] == keys
        assert result.equals(_visits())
    (text,) = texts  # the same statement whatever the number of keys
    assert '"patient_id" IN (SELECT unnest($1))' in text
    assert "P0000" not in text


def test_hostile_keys_and_names_are_values_and_names(pg: PostgresConnector) -> None:
    pg.write("victims", pa.table({"id": [1]}))
    table = "t{0}$1'; DROP TABLE victims; --"  # braces and $1 too: nothing is formatted
    pg.write(table, pa.table({"k{}": ["a", "x' OR '1'='1"], "v": [1, 2]}))
    hostile = ["x' OR '1'='1", "a'); DROP TABLE victims; --"]
    result = pg.read(ReadRequest(table, key_column="k{}", keys=hostile))
    assert result.to_pydict() == {"k{}": ["x' OR '1'='1"], "v": [2]}
    assert pg.read(ReadRequest("victims")).to_pydict() == {"id": [1]}


def test_timestamps_are_stored_as_timestamptz(
    pg: PostgresConnector, options: dict[str, Any]
) -> None:
    pg.write("visits", _visits(3))
    rows = _query(
        options,
        "SELECT data_type FROM information_schema.columns "
        "WHERE table_schema = %s AND table_name = 'visits' AND column_name = 'visit_date'",
        options["schema_name"],
    )
    assert rows == [("timestamp with time zone",)]
    first = _query(options, f'SELECT min(visit_date) FROM "{options["schema_name"]}".visits')
    assert first == [(T0,)]


def test_a_table_potluck_did_not_write_is_read_with_its_own_types(
    pg: PostgresConnector, options: dict[str, Any]
) -> None:
    schema = options["schema_name"]
    with psycopg.connect(
        host=options["host"], port=options["port"], user="postgres", dbname="potluck"
    ) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(f'CREATE TABLE "{schema}".legacy (pid text, seen timestamp, n integer)')
        conn.execute(
            f'INSERT INTO "{schema}".legacy VALUES (%s, %s, %s), (%s, %s, %s)',
            ("a", datetime(2024, 5, 1, 12), 1, "b", datetime(2024, 5, 2), None),
        )
    request = ReadRequest("legacy", timestamp_column="seen", start=datetime(2024, 5, 2, tzinfo=UTC))
    result = pg.read(request)
    assert result.schema == pa.schema([("pid", pa.string()), ("seen", TS), ("n", pa.int32())])
    assert result.to_pydict() == {
        "pid": ["b"],
        "seen": [datetime(2024, 5, 2, tzinfo=UTC)],
        "n": [None],
    }


def test_unreachable_server_names_the_source_and_connector() -> None:
    dead = open_connector(
        SOURCE, "postgres", {"host": "127.0.0.1", "port": free_port(), "database": "potluck"}
    )
    for call in (dead.ping, lambda: dead.read(ReadRequest("visits"))):
        with pytest.raises(SourceError) as raised:
            call()
        assert (raised.value.source, raised.value.connector) == (SOURCE, "postgres")
        assert "Connection refused" in raised.value.message
        assert f"source '{SOURCE}' (postgres connector)" in raised.value.message


def test_rows_come_back_in_write_order_even_when_the_heap_is_not(
    pg: PostgresConnector, options: dict[str, Any]
) -> None:
    data = pa.table({"k": ["a", "b", "c"], "v": [1, 2, 3]})
    pg.write("ordered", data)
    with psycopg.connect(
        host=options["host"], port=options["port"], user="postgres", dbname="potluck"
    ) as conn:  # an UPDATE writes a new row version at the end of the heap
        conn.execute(f'UPDATE "{options["schema_name"]}".ordered SET v = v WHERE k = %s', ("a",))
    heap = _query(options, f'SELECT k FROM "{options["schema_name"]}".ordered')
    assert [row[0] for row in heap] == ["b", "c", "a"]
    assert pg.read(ReadRequest("ordered")).equals(data)
