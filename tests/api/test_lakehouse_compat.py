"""The seed lakehouse platform's request bodies, verbatim, through ``/feast``.

A small lakehouse deployment (Iceberg gold tables, monthly snapshots of 2024 so the
seed's 2024 training window holds labels) in its own POTLUCK_HOME, served by the
real ASGI app.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from potluck.settings import Settings
from tests.api.conftest import READ, READ_KEY, WRITE, WRITE_KEY

CUSTOMERS = 1200
AS_OF = datetime(2025, 1, 1, tzinfo=UTC)

# The seed's bodies, exactly as its README gives them.
SEED_FEATURE_VIEW = {
    "name": "customer_features",
    "entities": ["customer_id"],
    "features": [
        {"name": "total_orders", "dtype": "int64"},
        {"name": "avg_order_value", "dtype": "float64"},
    ],
    "source": {
        "catalog": "iceberg",
        "schema": "gold",
        "table_name": "customer_aggregates",
        "timestamp_field": "updated_at",
    },
    "online": False,
}
SEED_TRAINING = {
    "name": "churn_predictor",
    "framework": "sklearn",
    "model_type": "classification",
    "training_data": {
        "entity_df_source": "customers",
        "label_column": "churned",
        "event_timestamp_column": "snapshot_date",
        "start_date": "2024-01-01T00:00:00Z",
        "end_date": "2024-12-31T23:59:59Z",
    },
}
SEED_ONLINE = {"model_id": "model-uuid", "features": {"total_orders": 15, "avg_order_value": 83.37}}


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    from potluck.features.repo import FeatureRepo
    from potluck.workflows import data

    home: Path = tmp_path_factory.mktemp("lakehouse_api") / "home"
    settings = Settings(
        home=home,
        profile="embedded",
        deployment="lakehouse",
        api_keys={READ_KEY: "read", WRITE_KEY: "read,write"},
    )
    data.seed(settings, size=CUSTOMERS, seed=5, as_of=AS_OF)
    FeatureRepo(settings).apply()
    return settings


@pytest.fixture(scope="module")
def api(lake: Settings) -> Iterator[TestClient]:
    from potluck.api.main import create_app

    with TestClient(create_app(lake), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def trained(api: TestClient) -> dict[str, Any]:
    response = api.post("/feast/models", headers=WRITE, json=SEED_TRAINING)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _view_names(api: TestClient) -> set[str]:
    response = api.get("/feast/features", headers=READ)
    assert response.status_code == 200, response.text
    return {v["name"] for v in response.json()}


def test_register_a_feature_view_from_the_gold_table(api: TestClient) -> None:
    response = api.post("/feast/features", headers=WRITE, json=SEED_FEATURE_VIEW)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "registered"
    assert body["features"] == ["total_orders", "avg_order_value"]
    assert body["source_table"] == "iceberg.gold.customer_aggregates"
    assert body["online_enabled"] is False
    listed = {v["name"]: v for v in api.get("/feast/features", headers=READ).json()}
    assert listed["customer_features"]["ttl_seconds"] == 86400  # the seed's default
    assert listed["customer_features"]["entities"] == ["customer"]
    # registering it again names the clash
    again = api.post("/feast/features", headers=WRITE, json=SEED_FEATURE_VIEW)
    assert again.status_code == 422 and "already exists" in again.text


def _broken(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        **SEED_FEATURE_VIEW,
        "name": "broken_view",
        "source": dict(SEED_FEATURE_VIEW["source"]),  # type: ignore[call-overload]
    }
    for key, value in changes.items():
        if key in ("table_name", "schema", "catalog", "timestamp_field"):
            body["source"][key] = value
        else:
            body[key] = value
    return body


def test_missing_table_column_or_dtype_is_a_422_naming_each_and_registers_nothing(
    api: TestClient,
) -> None:
    cases = {
        "no table": (_broken(table_name="customer_aggregatez"), ["customer_aggregatez"]),
        "bad columns": (
            _broken(
                features=[
                    {"name": "total_orderz", "dtype": "int64"},
                    {"name": "plan", "dtype": "float64"},
                    {"name": "avg_order_value", "dtype": "bytes"},
                ]
            ),
            ["total_orderz", "'plan' is declared float64", "'bytes' is not supported"],
        ),
        "bad schema": (_broken(schema="silver"), ["schema 'silver'"]),
        "bad entity": (_broken(entities=["client_id"]), ["client_id"]),
        "bad timestamp": (_broken(timestamp_field="created_at"), ["created_at"]),
    }
    for case, (body, expected) in cases.items():
        response = api.post("/feast/features", headers=WRITE, json=body)
        assert response.status_code == 422, (case, response.text)
        answer = response.json()
        text = " ".join(answer.get("problems", [])) + answer["message"]
        for needle in expected:
            assert needle in text, (case, needle, answer)
    assert "broken_view" not in _view_names(api)


def test_feature_service_and_status(api: TestClient) -> None:
    response = api.post(
        "/feast/features/service",
        headers=WRITE,
        json={"name": "gold_account", "feature_views": ["customer_account", "customer_support"]},
    )
    assert response.status_code == 201, response.text
    features = response.json()["features"]
    assert "customer_account:plan" in features and not any("email" in f for f in features)
    status = api.get("/feast/status", headers=READ).json()
    assert status["num_entities"] == 1 and status["entities"] == ["customer"]
    assert {"customer_activity", "customer_trends"} <= set(status["feature_views"])
    assert status["num_feature_services"] >= 3
    assert status["offline_store_type"] == "FederatedOfflineStore"


def test_train_with_the_seed_body(trained: dict[str, Any]) -> None:
    assert trained["model_id"] == "churn_predictor:1"
    assert trained["status"] == "completed"
    assert trained["metrics"]["test_metrics"]["roc_auc"] > 0.75


def test_training_problems_are_listed(api: TestClient) -> None:
    body = {
        **SEED_TRAINING,
        "framework": "pytorch",
        "training_data": {**SEED_TRAINING["training_data"], "entity_df_source": "shops"},  # type: ignore[dict-item]
    }
    response = api.post("/feast/models", headers=WRITE, json=body)
    assert response.status_code == 422
    assert "pytorch" in response.text and "shops" in response.text


def test_list_models(api: TestClient, trained: dict[str, Any]) -> None:
    models = api.get("/feast/models", headers=READ).json()
    mine = [m for m in models if m["model_id"] == trained["model_id"]]
    assert mine and mine[0]["framework"] == "sklearn" and "roc_auc" in mine[0]["metrics"]


def test_online_prediction_with_the_seed_body(api: TestClient, trained: dict[str, Any]) -> None:
    unknown = api.post("/feast/predictions/online", headers=READ, json=SEED_ONLINE)
    assert unknown.status_code == 404 and "model-uuid" in unknown.text
    body = {**SEED_ONLINE, "model_id": trained["model_id"]}
    response = api.post("/feast/predictions/online", headers=READ, json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["mode"] == "online" and answer["model_version"] == "1"
    assert 0.0 <= answer["probabilities"]["1"] <= 1.0
    assert "partial" in answer["status"]  # the seed's body gives two of eight features
    bad = {**body, "features": {"total_orders": 15, "favourite_colour": "red"}}
    refused = api.post("/feast/predictions/online", headers=READ, json=bad)
    assert refused.status_code == 422 and "favourite_colour" in refused.text


def test_batch_predictions_become_an_iceberg_snapshot(
    api: TestClient, lake: Settings, trained: dict[str, Any]
) -> None:
    from potluck.connectors import ReadRequest
    from potluck.services.prediction_sink import sink_connector

    body = {
        "model_id": trained["model_id"],
        "input_table": "churn_labels",
        "entity_columns": ["customer_id"],
        "output_table": "churn_scores",
        "output_schema": "gold",
        "prediction_column_name": "churn_score",
    }
    first = api.post("/feast/predictions/batch", headers=READ, json=body)
    assert first.status_code == 200, first.text
    answer = first.json()
    assert answer["output_table"] == "gold.churn_scores" and answer["num_predictions"] > 0
    again = api.post("/feast/predictions/batch", headers=READ, json=body)
    assert again.status_code == 200, again.text
    gold = sink_connector(lake, "gold")
    assert len(gold.snapshots("churn_scores")) == 2  # each run: one new snapshot
    table = gold.read(ReadRequest("churn_scores"))
    assert table.num_rows == 2 * answer["num_predictions"]
    assert {"customer_id", "event_timestamp", "churn_score", "probability", "model"} <= set(
        table.column_names
    )
    wrong = api.post(
        "/feast/predictions/batch", headers=READ, json={**body, "entity_columns": ["id"]}
    )
    assert wrong.status_code == 422 and "entity_columns" in wrong.text


def test_the_compat_router_needs_a_key(api: TestClient) -> None:
    assert api.get("/feast/status").status_code == 401
    assert api.post("/feast/features", headers=READ, json=SEED_FEATURE_VIEW).status_code == 403
