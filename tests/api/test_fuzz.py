"""Property/fuzz tests from the OpenAPI schema (schemathesis): no 5xx on any generated input,
and every error answer is a JSON body with a code and a message.

Cases are generated per operation with schemathesis' hypothesis strategies and sent
through the real ASGI app (schemathesis' lazy pytest loader does not run under this
pytest, so the loop is explicit). Bounded: 15 examples per operation keeps the run
well under a minute (a batch prediction does a point-in-time join per example).
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.api.conftest import WRITE

pytestmark = pytest.mark.xdist_group("api")

EXAMPLES = 15


def _operations(app: Any) -> list[Any]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


def test_no_server_errors_on_generated_input(client: Any, stroke_model: dict[str, Any]) -> None:
    operations = _operations(client.app)
    assert len(operations) >= 13  # every endpoint of the issue is in the schema
    failures: list[str] = []
    calls: list[int] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: Any) -> None:
            response = case.call(headers=WRITE)
            calls.append(response.status_code)
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}"
                )
                return
            if response.status_code >= 400:
                body = response.json()
                assert isinstance(body.get("code"), str), body
                assert isinstance(body.get("message"), str), body

        check()
    assert not failures, "\n".join(failures[:10])
    assert len(calls) >= 5 * len(operations)
    assert any(200 <= status < 300 for status in calls)  # not only rejections
