"""The shared connector contract, run against Iceberg on real servers.

The SQL catalog lives in the session's real PostgreSQL (psycopg 3 through
SQLAlchemy) and the warehouse in moto's S3 server: the services profile's
layout. Each test gets a catalog name, namespace and warehouse prefix of its own.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from potluck.devservices import Server
from tests.integration.connectors.conftest import contract_tests

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("iceberg")]

globals().update(contract_tests())


@pytest.fixture
def kind() -> str:
    return "iceberg"


@pytest.fixture
def options(postgres_server: Server, s3_server: Server) -> dict[str, Any]:
    unique = uuid.uuid4().hex[:12]
    return {
        "catalog": f"c_{unique}",
        "uri": f"postgresql+psycopg://postgres@{postgres_server.host}:{postgres_server.port}/potluck",
        "warehouse": f"s3://iceberg-contract/w_{unique}",
        "namespace": f"n_{unique}",
        "endpoint_url": f"http://{s3_server.host}:{s3_server.port}",
        "access_key": "test",
        "secret_key": "test",
    }
