"""The connector contract against real servers: fixtures shared by postgres and s3.

Each test module here sets ``kind`` and ``options`` (pointing at the session's
real server, in a namespace of its own per test) and pulls in the contract's
test functions from tests/unit/connectors with :func:`contract_tests`, so the
embedded and the real connectors are held to the very same tests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pytest

from potluck.connectors import Connector, open_connector
from tests.unit.connectors.conftest import SOURCE, sample_table


def contract_tests() -> dict[str, Any]:
    """The ``test_*`` functions of the shared contract module, to add to a module's globals."""
    from tests.unit.connectors import test_connector_contract as contract

    return {name: fn for name, fn in vars(contract).items() if name.startswith("test_")}


@pytest.fixture
def sample() -> pa.Table:
    return sample_table()


@pytest.fixture
def make_connector(kind: str, options: dict[str, Any]) -> Callable[[], Connector]:
    """A factory, so a test can build a second connector on the same storage."""
    return lambda: open_connector(SOURCE, kind, options)


@pytest.fixture
def connector(make_connector: Callable[[], Connector]) -> Connector:
    return make_connector()
