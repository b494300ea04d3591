"""Defect 9: raw-value rows are checked against the model's feature schema; every problem
is listed in one 422."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import READ

pytestmark = pytest.mark.xdist_group("api")


def _predict(client: TestClient, rows: list[dict[str, Any]]) -> Any:
    return client.post(
        "/predictions/online", headers=READ, json={"model": "stroke_api", "rows": rows}
    )


def test_wrong_types_are_all_listed(client: TestClient, stroke_model: dict[str, Any]) -> None:
    response = _predict(client, [{"bmi": True, "age": "seventy", "gender": 3}])
    assert response.status_code == 422, response.text
    message = response.json()["message"]
    for word in ("rows[0].bmi", "rows[0].age", "rows[0].gender"):
        assert word in message, message
    assert len(response.json()["problems"]) >= 3


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "1e30"])
def test_non_finite_and_absurd_numbers_are_refused(
    client: TestClient, stroke_model: dict[str, Any], text: str
) -> None:
    body = '{"model": "stroke_api", "rows": [{"bmi": ' + text + ', "age": 50}]}'
    response = client.post(
        "/predictions/online",
        headers={**READ, "Content-Type": "application/json"},
        content=body.encode(),
    )
    assert response.status_code == 422, response.text
    assert "bmi" in response.json()["message"]


def test_an_unknown_category_is_refused(client: TestClient, stroke_model: dict[str, Any]) -> None:
    response = _predict(client, [{"gender": "Martian", "age": 50}])
    assert response.status_code == 422, response.text
    assert "Martian" in response.json()["message"] and "gender" in response.json()["message"]


def test_valid_rows_still_score(client: TestClient, stroke_model: dict[str, Any]) -> None:
    response = _predict(client, [{"gender": "Female", "age": 50, "bmi": 27.5}, {"bmi": None}])
    assert response.status_code == 200, response.text
    assert all(0 <= p["probability"] <= 1 for p in response.json()["predictions"])
