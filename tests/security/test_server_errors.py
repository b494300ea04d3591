"""Defect 5: requests that used to end in a 500 are a 4xx with the standard error body."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import READ, WRITE, Deployment

pytestmark = pytest.mark.xdist_group("api")


@pytest.mark.parametrize("alias", ["latest", "v1", "V12", "prod.v2", "champion."])
def test_reserved_aliases_are_refused(
    client: TestClient, stroke_model: dict[str, Any], alias: str
) -> None:
    version = stroke_model["version"]
    response = client.post(
        f"/models/stroke_api/versions/{version}/promote", headers=WRITE, json={"alias": alias}
    )
    assert response.status_code == 422, response.text
    assert set(response.json()) >= {"code", "message"}


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00", "9999-12-31T23:59:59", "1200-06-01"])
def test_an_entity_time_out_of_range_is_422(
    client: TestClient, stroke_model: dict[str, Any], when: str
) -> None:
    body = {
        "model": "stroke_api",
        "entities": [{"patient_id": "P00000001", "event_timestamp": when}],
    }
    response = client.post("/predictions/batch", headers=READ, json=body)
    assert response.status_code == 422, response.text
    assert "event_timestamp" in response.json()["message"]


@pytest.mark.parametrize("column", ["first_name", "stroke_occurred", "date_of_birth"])
def test_a_csv_with_a_forbidden_column_is_422(
    client: TestClient, deployment: Deployment, stroke_model: dict[str, Any], column: str
) -> None:
    folder = deployment.settings.home.resolve() / "batch" / "csv"
    folder.mkdir(parents=True, exist_ok=True)
    day = deployment.as_of.date().isoformat()
    (folder / f"{column}.csv").write_text(
        f"patient_id,event_timestamp,{column}\nP00000001,{day}T00:00:00Z,1\n"
    )
    body = {"model": "stroke_api", "input_path": f"csv/{column}.csv", "include_features": True}
    response = client.post("/predictions/batch", headers=READ, json=body)
    assert response.status_code == 422, response.text
    assert column in response.json()["message"]
