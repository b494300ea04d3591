"""The connector contract of tests/unit/connectors, run against a real local Spark.

The contract's test functions are imported as they are, so Spark meets exactly the
checks the embedded connectors meet; only the failed-write test, whose way of
breaking a write is backend-specific, has a Spark version in test_spark_connector.py.
"""

from __future__ import annotations

import pytest
from tests.unit.connectors import test_connector_contract as contract

pytestmark = [pytest.mark.xdist_group("spark"), pytest.mark.integration]

_BACKEND_SPECIFIC = {"test_failed_replace_keeps_the_old_table"}

globals().update(
    {
        name: test
        for name, test in vars(contract).items()
        if name.startswith("test_") and callable(test) and name not in _BACKEND_SPECIFIC
    }
)
