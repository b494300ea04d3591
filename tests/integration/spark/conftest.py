"""One real local SparkSession for every Spark test of a test session.

Starting Spark takes seconds, so it is started once (per xdist worker; every
Spark test is in the ``spark`` xdist group, so in practice once) with small
settings for local data, and shared by the connector, engine and join tests.
It FAILS, never skips, if Spark cannot start.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from tests.unit.connectors.conftest import SOURCE, sample_table

from potluck.connectors import Connector, open_connector
from potluck.connectors.spark import SparkSessionConfig, spark_session

SPARK_OPTIONS: dict[str, Any] = {"master": "local[2]", "shuffle_partitions": 2}


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    config = SparkSessionConfig(
        **SPARK_OPTIONS,
        conf={
            "spark.sql.warehouse.dir": str(warehouse),
            "spark.driver.memory": "1g",
            "spark.sql.adaptive.enabled": "false",  # fewer planning passes on tiny data
        },
    )
    session = spark_session(config)
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
