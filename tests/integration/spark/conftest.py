"""One real local SparkSession for every Spark test of a test session.

Starting Spark takes seconds, so it is started once (per xdist worker; every
Spark test is in the ``spark`` xdist group, so in practice once) with small
settings for local data (``POTLUCK_SPARK__*``, set for the whole test session in
tests/conftest.py), and shared by the connector, engine and join tests.
It FAILS, never skips, if Spark cannot start.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from tests.conftest import SPARK_OPTIONS
from tests.unit.connectors.conftest import SOURCE, sample_table

from potluck.connectors import Connector, open_connector
from potluck.connectors.spark import SparkSessionConfig, spark_session


@pytest.fixture(scope="session")
def spark(spark_environment: None) -> Iterator[Any]:
    # The test settings come from POTLUCK_SPARK__* (tests/conftest.py), so a session
    # started earlier by other code in this process (the services profile's `engineer`)
    # is the same one this fixture would build.
    session = spark_session(SparkSessionConfig())
    yield session
    session.stop()


@pytest.fixture
def kind() -> str:
    return "spark"


@pytest.fixture
def options(spark: Any, tmp_path: Path) -> dict[str, Any]:
    return {**SPARK_OPTIONS, "root": str(tmp_path / "spark")}


@pytest.fixture
def sample() -> pa.Table:
    return sample_table()


@pytest.fixture
def make_connector(options: dict[str, Any]) -> Callable[[], Connector]:
    return lambda: open_connector(SOURCE, "spark", options)


@pytest.fixture
def connector(make_connector: Callable[[], Connector]) -> Connector:
    return make_connector()


@pytest.fixture(scope="session")
def spark_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A standalone cluster: master + two workers (separate JVMs via spark-class).

    Drive it from a subprocess (``cluster.env`` makes potluck importable there and in
    the executors' Python workers): this process may already hold a local SparkSession."""
    from tests.integration.spark.cluster import start_cluster, stop_cluster

    cluster = start_cluster(tmp_path_factory.mktemp("spark_cluster"))
    yield cluster
    stop_cluster(cluster)
