"""Real servers for the tests that need them, started by the suite itself.

Each fixture starts the real thing on a free loopback port (PostgreSQL 15 from
the Debian binaries, redis-server, moto's S3 server) once per test session (per
xdist worker) and stops it afterwards. A server that cannot start makes the
tests that need it FAIL with the reason -- they never skip.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from potluck import devservices
from potluck.devservices import Server

# Small local Spark for tests; the spark fixture and any code that starts the session by
# itself (``engineer`` on the services profile picks Spark) build the same one.
SPARK_OPTIONS: dict[str, Any] = {"master": "local[2]", "shuffle_partitions": 2}


@pytest.fixture(scope="session", autouse=True)
def spark_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """POTLUCK_SPARK__* for the whole test session: whichever test starts the process's
    one SparkSession first, it gets these settings (and a warehouse under tmp, not cwd)."""
    conf = {
        "spark.sql.warehouse.dir": str(tmp_path_factory.mktemp("spark-warehouse")),
        "spark.driver.memory": "1g",
        "spark.sql.adaptive.enabled": "false",  # fewer planning passes on tiny data
    }
    with pytest.MonkeyPatch.context() as env:
        env.setenv("POTLUCK_SPARK__MASTER", SPARK_OPTIONS["master"])
        env.setenv("POTLUCK_SPARK__SHUFFLE_PARTITIONS", str(SPARK_OPTIONS["shuffle_partitions"]))
        env.setenv("POTLUCK_SPARK__CONF", json.dumps(conf))
        yield


@pytest.fixture(scope="session")
def services_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("services")


@pytest.fixture(scope="session")
def postgres_server(services_root: Path) -> Iterator[Server]:
    server = devservices.start_postgres(services_root / "postgres", devservices.free_port())
    yield server
    devservices.stop(server)


@pytest.fixture(scope="session")
def redis_server(services_root: Path) -> Iterator[Server]:
    server = devservices.start_redis(services_root / "redis", devservices.free_port())
    yield server
    devservices.stop(server)


@pytest.fixture(scope="session")
def s3_server(services_root: Path) -> Iterator[Server]:
    server = devservices.start_moto(services_root / "moto", devservices.free_port())
    yield server
    devservices.stop(server)
