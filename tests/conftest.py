"""Real servers for the tests that need them, started by the suite itself.

Each fixture starts the real thing on a free loopback port (PostgreSQL 15 from
the Debian binaries, redis-server, moto's S3 server) once per test session (per
xdist worker) and stops it afterwards. A server that cannot start makes the
tests that need it FAIL with the reason -- they never skip.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from potluck import devservices
from potluck.devservices import Server


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
