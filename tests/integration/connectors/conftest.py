"""The connector contract against real servers: fixtures shared by postgres and s3.

Each test module here sets ``kind`` and ``options`` (pointing at the session's
real server, in a namespace of its own per test) and pulls in the contract's
test functions from tests/unit/connectors with :func:`contract_tests`, so the
embedded and the real connectors are held to the very same tests.
"""

from __future__ import annotations

from typing import Any

# The embedded contract's own fixtures, not copies: they build a connector from the
# ``kind`` and ``options`` each module here defines for its real server.
from tests.unit.connectors.conftest import connector, make_connector, sample  # noqa: F401


def contract_tests() -> dict[str, Any]:
    """The ``test_*`` functions of the shared contract module, to add to a module's globals."""
    from tests.unit.connectors import test_connector_contract as contract

    return {name: fn for name, fn in vars(contract).items() if name.startswith("test_")}
