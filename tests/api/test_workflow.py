"""The whole path through the real ASGI app: register -> train -> promote -> predict."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import PATIENTS, READ, WRITE, Deployment, train

pytestmark = pytest.mark.xdist_group("api")

VIEW = {
    "name": "vitals_api",
    "entities": ["patient"],
    "fields": [
        {"name": "heart_rate", "dtype": "int64", "description": "resting bpm"},
        {"name": "cholesterol_level", "dtype": "float64"},
    ],
    "source": "clinical_measurements",
    "timestamp_field": "visit_date",
    "ttl_seconds": 365 * 86400,
    "tags": {"team": "api-tests"},
}
SERVICE = {
    "name": "stroke_vitals",
    "features": [
        "vitals_api:heart_rate",
        "vitals_api:cholesterol_level",
        "clinical_statistics:bmi",
        "medical_conditions:hypertension",
        "patient_demographics:gender",
        "request_time_features:age",
    ],
}


def _register(client: TestClient) -> None:
    created = client.post("/features", headers=WRITE, json=VIEW)
    assert created.status_code == 201, created.text
    assert [f["name"] for f in created.json()["fields"]] == ["heart_rate", "cholesterol_level"]
    listed = client.get("/features", headers=READ).json()
    assert "vitals_api" in {v["name"] for v in listed}
    one = client.get("/features/vitals_api", headers=READ).json()
    assert one["source"] == "clinical_measurements" and one["ttl_seconds"] == 365 * 86400
    service = client.post("/feature-services", headers=WRITE, json=SERVICE)
    assert service.status_code == 201, service.text
    assert service.json()["features"] == SERVICE["features"]
    names = {s["name"] for s in client.get("/feature-services", headers=READ).json()}
    assert {"stroke_vitals", "stroke_risk_v1"} <= names


def test_register_train_promote_predict(client: TestClient, deployment: Deployment) -> None:
    from potluck.features.repo import FeatureRepo
    from potluck.online.materialize import materialize

    _register(client)
    job = train(client, name="vitals_lgbm", framework="lightgbm", feature_service="stroke_vitals")
    assert job["progress"] == 1.0 and job["stage"] == "done"
    assert any(0 < p < 1 for p in job["seen_progress"]) or job["seen_progress"][-1] == 1.0
    result = job["result"]
    assert set(result["metrics"]) == {"accuracy", "precision", "recall", "f1", "roc_auc"}
    assert 0.5 < result["metrics"]["roc_auc"] <= 1.0
    assert result["training_rows"] == result["train_rows"] + result["test_rows"] > PATIENTS

    model = client.get("/models/vitals_lgbm", headers=READ).json()
    (version,) = model["versions"]
    lineage = version["lineage"]
    assert lineage["feature_service"] == "stroke_vitals"
    assert lineage["training_set_fingerprint"] == result["training_set_fingerprint"]
    assert lineage["training_rows"] == result["training_rows"]
    assert lineage["label"] == "stroke_occurred" and "stroke_occurred" not in lineage["features"]
    assert version["params"]["framework"] == "lightgbm"

    promoted = client.post("/models/vitals_lgbm/versions/1/promote", headers=WRITE, json={})
    assert promoted.json() == {"name": "vitals_lgbm", "version": 1, "alias": "production"}
    summary = {m["name"]: m for m in client.get("/models", headers=READ).json()}
    assert summary["vitals_lgbm"]["aliases"] == {"production": 1}

    # The new view reaches the online store the usual way, then online predictions use it.
    materialize(FeatureRepo(deployment.settings), end=deployment.as_of, views=["vitals_api"])
    online = client.post(
        "/predictions/online",
        headers=READ,
        json={"model": "vitals_lgbm", "entity_ids": ["P00000001", "P00000002", "NOBODY"]},
    )
    assert online.status_code == 200, online.text
    body = online.json()
    assert (body["model"], body["version"]) == ("vitals_lgbm", 1)
    rows = body["predictions"]
    assert [r["status"] != "unknown_entity" for r in rows] == [True, True, False]
    for row in rows[:2]:  # "partial" names exactly the features that came back null
        nulls = sorted(k for k, v in row["features"].items() if v is None)
        assert sorted(row["missing"] + row["expired"]) == nulls
        assert row["status"] == ("partial" if nulls else "ok")
    assert rows[2]["prediction"] is None and rows[2]["features"] is None
    for row in rows[:2]:
        assert 0.0 <= row["probability"] <= 1.0
        assert row["prediction"] == float(row["probability"] >= 0.5)
        assert set(row["features"]) == {
            "heart_rate",
            "cholesterol_level",
            "bmi",
            "hypertension",
            "gender",
            "age",
        }
    assert any(r["features"]["heart_rate"] is not None for r in rows[:2])

    _batch(client, deployment)


def _batch(client: TestClient, deployment: Deployment) -> None:
    entities = [
        {"patient_id": f"P{i:08d}", "event_timestamp": deployment.as_of.isoformat()}
        for i in range(1, 6)
    ]
    inline = client.post(
        "/predictions/batch",
        headers=READ,
        json={"model": "vitals_lgbm", "entities": entities, "include_features": True},
    )
    assert inline.status_code == 200, inline.text
    body = inline.json()
    assert body["output"] == "inline" and body["rows"] == 5
    assert [r["patient_id"] for r in body["predictions"]] == [e["patient_id"] for e in entities]
    assert all(0 <= r["probability"] <= 1 and "heart_rate" in r for r in body["predictions"])

    # A bigger frame from a file in the batch folder: answered as Parquet.
    n = 3000
    frame = pa.table(
        {
            "row_id": pa.array(range(n), pa.int64()),
            "patient_id": [f"P{(i % PATIENTS) + 1:08d}" for i in range(n)],
            "event_timestamp": pa.array([deployment.as_of] * n, pa.timestamp("us", tz="UTC")),
        }
    )
    folder = deployment.settings.home.resolve() / "batch" / "in"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(frame, folder / "entities.parquet")
    answer = client.post(
        "/predictions/batch",
        headers=WRITE,
        json={
            "model": "vitals_lgbm",
            "input_path": "in/entities.parquet",
            "output_path": "out/scored.parquet",  # a write key: a read key cannot choose
        },
    )
    assert answer.status_code == 200, answer.text
    out = answer.json()
    assert (out["output"], out["rows"], out["output_path"]) == ("parquet", n, "out/scored.parquet")
    scored = pq.read_table(deployment.settings.home.resolve() / "batch" / out["output_path"])
    assert scored.num_rows == n
    assert scored["row_id"].to_pylist() == list(range(n))
    assert set(scored.column_names) == {
        "row_id",
        "patient_id",
        "event_timestamp",
        "prediction",
        "probability",
    }
    assert scored["probability"].null_count == 0


def test_regression_with_xgboost_and_raw_rows(client: TestClient) -> None:
    features = [
        "medical_conditions:hypertension",
        "medical_conditions:heart_disease",
        "patient_demographics:gender",
        "request_time_features:age",
    ]
    label = {
        "source": "clinical_measurements",
        "column": "avg_glucose_level",
    }
    response = client.post(
        "/models",
        headers=WRITE,
        json={
            "name": "glucose_xgb",
            "framework": "xgboost",
            "model_type": "regression",
            "features": features,
            "label": label,
            "hyperparameters": {"n_estimators": 60, "max_depth": 3},
        },
    )
    assert response.status_code == 202, response.text
    from tests.api.conftest import wait_for_job

    job = wait_for_job(client, response.json()["job_id"])
    assert job["state"] == "succeeded", job["error"]
    metrics = job["result"]["metrics"]
    assert set(metrics) == {"mse", "mae", "r2"}
    assert metrics["r2"] > 0.05  # glucose depends on the conditions and age by construction
    lineage = client.get("/models/glucose_xgb", headers=READ).json()["versions"][0]["lineage"]
    assert lineage["feature_refs"] == features and lineage["model_type"] == "regression"
    rows: list[dict[str, Any]] = [
        {"hypertension": 1, "heart_disease": 1, "gender": "Male", "age": 80},
        {"hypertension": 0, "heart_disease": 0, "gender": "Female", "age": 20},
    ]
    # A new version is served only once promoted to the serving alias.
    unpromoted = client.post(
        "/predictions/online", headers=READ, json={"model": "glucose_xgb", "rows": rows}
    )
    assert unpromoted.status_code == 404, unpromoted.text
    version = job["result"]["version"]
    promoted = client.post(f"/models/glucose_xgb/versions/{version}/promote", headers=WRITE)
    assert promoted.status_code == 200, promoted.text
    answer = client.post(
        "/predictions/online", headers=READ, json={"model": "glucose_xgb", "rows": rows}
    )
    assert answer.status_code == 200, answer.text
    high, low = answer.json()["predictions"]
    assert high["probability"] is None and high["prediction"] > low["prediction"]


def test_status_health_and_metrics(client: TestClient) -> None:
    health = client.get("/health")
    assert health.json() == {"status": "ok"}
    status = client.get("/status", headers=READ).json()
    kinds = {c["kind"] for c in status["components"]}
    assert kinds == {"registry", "online_store", "offline_source", "mlflow"}
    assert status["status"] == "ok", status
    assert all(c["up"] and c["latency_ms"] >= 0 for c in status["components"])
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert 'potluck_http_requests_total{method="GET",route="/health",status="200"}' in metrics.text
