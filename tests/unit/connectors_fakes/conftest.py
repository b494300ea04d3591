"""Fixtures for the connectors whose servers cannot run here: MongoDB and SQL Server.

``mongodb`` runs against mongomock (an in-memory fake of pymongo's API);
``mssql`` runs its SQLAlchemy Core statements against a SQLite engine as a
behavioural stand-in (its SQL Server statements are checked separately by
compiling them with the mssql dialect). Neither is a live server.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from tests.unit.connectors.conftest import SOURCE, sample_table

from potluck.connectors import Connector
from potluck.connectors.mongodb import MongoConfig, MongoConnector
from potluck.connectors.mssql import MssqlConfig, MssqlConnector

FAKE_KINDS = ["mongodb", "mssql"]


@pytest.fixture(params=FAKE_KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture
def options(kind: str, tmp_path: Path) -> dict[str, Any]:
    if kind == "mongodb":
        return {"database": "potluck_test", "batch_size": 2}
    return {"host": "127.0.0.1", "database": "potluck_test", "batch_size": 2}


@pytest.fixture
def sample() -> pa.Table:
    return sample_table()


@pytest.fixture
def backend(kind: str, tmp_path: Path) -> Any:
    """The fake storage a test's connectors share: a mongomock client or a SQLite engine."""
    if kind == "mongodb":
        import mongomock

        return mongomock.MongoClient(tz_aware=True)
    return sqlite_standin(tmp_path)


def sqlite_standin(tmp_path: Path) -> Any:
    """A SQLite engine with a ``dbo`` schema (an attached file), so the connector's
    schema-qualified statements run unchanged."""
    from sqlalchemy import create_engine, event

    engine = create_engine(f"sqlite:///{tmp_path / 'mssql_main.db'}")
    dbo = tmp_path / "mssql_dbo.db"

    @event.listens_for(engine, "connect")
    def _attach(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(f"ATTACH DATABASE '{dbo}' AS dbo")
        # pysqlite commits DDL on its own; SQL Server's DDL is transactional, so make
        # SQLite's so too (SQLAlchemy's documented recipe): BEGIN on every transaction.
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")

    return engine


@pytest.fixture
def make_connector(kind: str, options: dict[str, Any], backend: Any) -> Callable[[], Connector]:
    """A factory, so a test can build a second connector on the same storage."""
    if kind == "mongodb":
        return lambda: MongoConnector(SOURCE, MongoConfig(**options), client=backend)
    return lambda: MssqlConnector(SOURCE, MssqlConfig(**options), engine=backend)


@pytest.fixture
def connector(make_connector: Callable[[], Connector]) -> Connector:
    return make_connector()
