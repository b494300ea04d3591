"""Batch predictions written to the lakehouse: a write key's act, never over a source table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from potluck.errors import InvalidInputError
from potluck.services.prediction_sink import write_scores
from potluck.settings import Settings
from tests.api.conftest import READ, Deployment

pytestmark = pytest.mark.xdist_group("api")


def test_a_read_key_cannot_write_predictions_to_the_lakehouse(
    client: TestClient, deployment: Deployment, stroke_model: dict[str, Any]
) -> None:
    body = {
        "model": "stroke_api",
        "entities": [{"patient_id": "P00000001", "event_timestamp": "2025-01-01T00:00:00"}],
        "output": "iceberg",
        "output_table": "stroke_outcomes",
        "output_mode": "replace",
    }
    answer = client.post("/predictions/batch", headers=READ, json=body)
    assert answer.status_code == 403, answer.text
    assert "'write' scope" in answer.json()["message"]


def test_predictions_never_replace_a_source_table(tmp_path: Path) -> None:
    settings = Settings(profile="embedded", home=tmp_path / "home", deployment="lakehouse")
    scores = pa.table({"customer_id": ["C1"], "prediction": [0.5]})
    with pytest.raises(InvalidInputError) as refused:
        write_scores(
            settings,
            scores,
            model="churn",
            version=1,
            table="customer_aggregates",
            namespace="gold",
            mode="replace",
        )
    assert "source 'customer_aggregates'" in str(refused.value.problems)
