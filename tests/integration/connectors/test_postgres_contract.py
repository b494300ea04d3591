"""The shared connector contract, run against a real PostgreSQL server."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from potluck.devservices import Server
from tests.integration.connectors.conftest import contract_tests

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("postgres")]

globals().update(contract_tests())


@pytest.fixture
def kind() -> str:
    return "postgres"


@pytest.fixture
def options(postgres_server: Server) -> dict[str, Any]:
    # A schema of its own per test: the server is shared by the whole session.
    return {
        "host": postgres_server.host,
        "port": postgres_server.port,
        "database": "potluck",
        "schema_name": f"t_{uuid.uuid4().hex[:12]}",
        "sslmode": "disable",
    }
