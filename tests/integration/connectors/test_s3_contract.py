"""The shared connector contract, run against a real S3 endpoint (moto's server)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from potluck.devservices import Server
from tests.integration.connectors.conftest import contract_tests

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("s3")]

globals().update(contract_tests())


@pytest.fixture
def kind() -> str:
    return "s3"


@pytest.fixture
def options(s3_server: Server) -> dict[str, Any]:
    # A key prefix of its own per test: the bucket is shared by the whole session.
    return {
        "bucket": "contract",
        "prefix": f"t_{uuid.uuid4().hex[:12]}",
        "endpoint_url": f"http://{s3_server.host}:{s3_server.port}",
        "access_key": "test",
        "secret_key": "test",
    }
