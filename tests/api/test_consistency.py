"""Training/serving consistency: what the API predicts equals the registered pipeline
applied offline to the point-in-time features of the same entities at the same time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import READ, Deployment

pytestmark = pytest.mark.xdist_group("api")

IDS = [f"P{i:08d}" for i in range(1, 1501, 7)]  # 215 patients across the population


def _offline(
    deployment: Deployment, version: int, ids: list[str], at: datetime
) -> tuple[np.ndarray, pd.DataFrame]:
    """The registered pipeline (not the API's fast scorer) on offline PIT features."""
    from potluck.features.repo import FeatureRepo
    from potluck.features.retrieval import historical_features
    from potluck.ml.registry import load_model
    from potluck.ml.train import to_model_frame
    from potluck.offline.job import arrow_to_pandas

    loaded = load_model(deployment.settings, "stroke_api", version)
    entity = pd.DataFrame({"patient_id": ids, "event_timestamp": pd.Timestamp(at)})
    table = historical_features(FeatureRepo(deployment.settings), entity, loaded.feature_service)
    frame = arrow_to_pandas(table)
    x = to_model_frame(frame, loaded.features, loaded.categorical)
    return loaded.model.predict_proba(x)[:, 1], frame


def test_online_api_equals_offline_pipeline_now(
    client: TestClient, deployment: Deployment, stroke_model: dict[str, Any]
) -> None:
    now = datetime.now(UTC)
    response = client.post(
        "/predictions/online", headers=READ, json={"model": "stroke_api", "entity_ids": IDS}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["version"] == stroke_model["version"]  # the promoted version serves by default
    rows = body["predictions"]
    assert all(r["status"] in ("ok", "partial") for r in rows)
    for row in rows:  # a row's status names exactly its null features
        nulls = sorted(k for k, v in row["features"].items() if v is None)
        assert sorted(row["missing"] + row["expired"]) == nulls
        assert row["status"] == ("partial" if nulls else "ok")
    expected, frame = _offline(deployment, body["version"], IDS, now)
    served = np.array([r["probability"] for r in rows])
    np.testing.assert_allclose(served, expected, rtol=1e-9, atol=1e-12)
    # The feature values the API reports are the offline point-in-time values.
    for name in ("avg_glucose_level", "bmi", "risk_score", "age", "gender", "smoking_status"):
        online_values = [r["features"][name] for r in rows]
        offline_values = [None if pd.isna(v) else v for v in frame[name].tolist()]
        assert online_values == offline_values, name
    assert len({round(p, 6) for p in served}) > 50  # not a constant model


def test_batch_api_equals_offline_pipeline_in_the_past(
    client: TestClient, deployment: Deployment, stroke_model: dict[str, Any]
) -> None:
    at = deployment.as_of - timedelta(days=200, hours=5)
    entities = [{"patient_id": p, "event_timestamp": at.isoformat()} for p in IDS]
    response = client.post(
        "/predictions/batch",
        headers=READ,
        json={
            "model": "stroke_api",
            "entities": entities,
            "output": "inline",
            "include_features": True,
        },
    )
    assert response.status_code == 200, response.text
    rows = response.json()["predictions"]
    assert [r["patient_id"] for r in rows] == IDS
    expected, frame = _offline(deployment, stroke_model["version"], IDS, at)
    np.testing.assert_allclose([r["probability"] for r in rows], expected, rtol=1e-9, atol=1e-12)
    ages = [r["age"] for r in rows]
    assert ages == [None if pd.isna(v) else int(v) for v in frame["age"].tolist()]  # age as of `at`
