"""Defects 1-3: the deployment's data contract, never request tags, decides what is PII or
label, and nothing it names ever becomes a served, trained or returned feature."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import LABEL, READ, WRITE

pytestmark = pytest.mark.xdist_group("api")


def _view(name: str, source: str, timestamp: str, *columns: tuple[str, str]) -> dict[str, Any]:
    return {
        "name": name,
        "entities": ["patient"],
        "fields": [{"name": c, "dtype": t} for c, t in columns],
        "source": source,
        "timestamp_field": timestamp,
    }


# -- defect 1: a batch source's key and time are the contract's -----------------------------
@pytest.mark.parametrize(
    "extra",
    [
        {"entity_key": "first_name"},
        {"timestamp_field": "date_of_birth"},
        {"entity_key": "insurance_id", "timestamp_field": "stroke_date"},
    ],
)
def test_batch_source_key_and_time_cannot_be_chosen(
    client: TestClient, stroke_model: dict[str, Any], extra: dict[str, str]
) -> None:
    body = {"model": "stroke_api", "source": {"source": "patient_demographics", **extra}}
    response = client.post("/predictions/batch", headers=READ, json=body)
    assert response.status_code == 422, response.text
    assert "first_name" not in response.text.replace("entity_key", "")  # no values leak


def test_batch_source_answers_only_declared_key_and_time(
    client: TestClient, stroke_model: dict[str, Any]
) -> None:
    body = {
        "model": "stroke_api",
        "source": {"source": "patient_demographics"},
        "output": "inline",
        "include_features": True,
    }
    response = client.post("/predictions/batch", headers=READ, json=body)
    assert response.status_code == 200, response.text
    row = response.json()["predictions"][0]
    assert {"patient_id", "event_timestamp"} <= set(row)
    assert not set(row) & {"first_name", "last_name", "date_of_birth", "insurance_id", "city"}


# -- defect 2: contract PII, whatever the tags ---------------------------------------------
@pytest.mark.parametrize(
    ("source", "timestamp", "column"),
    [
        ("hospital_administration", "admission_date", "medical_record_number"),
        ("hospital_administration", "admission_date", "attending_physician"),
        ("patient_demographics", "registration_date", "city"),
        ("patient_demographics", "registration_date", "postal_code"),
    ],
)
def test_a_view_over_contract_pii_is_refused_without_a_tag(
    client: TestClient, source: str, timestamp: str, column: str
) -> None:
    body = _view(f"leak_{column}", source, timestamp, (column, "string"))
    response = client.post("/features", headers=WRITE, json=body)
    assert response.status_code == 422, response.text
    assert "PII" in response.json()["message"] and column in response.json()["message"]


def test_a_pii_tag_does_not_make_contract_pii_servable(client: TestClient) -> None:
    body = _view("tagged_pii", "patient_demographics", "registration_date", ("city", "string"))
    body["fields"][0]["tags"] = {"pii": "true"}
    response = client.post("/features", headers=WRITE, json=body)
    assert response.status_code == 422, response.text


def test_resolved_pii_includes_the_contract(client: TestClient) -> None:
    from potluck.deployment import active_deployment

    repo = client.app.state.repo  # type: ignore[attr-defined]
    resolved = repo.resolve(["clinical_statistics:bmi"])
    assert active_deployment(repo.settings).pii_columns <= resolved.pii


# -- defect 3: the label and label-derived columns --------------------------------------------
@pytest.mark.parametrize(
    ("column", "dtype"),
    [
        ("stroke_probability", "float64"),
        ("stroke_occurred", "int64"),
        ("recovery_status", "string"),
    ],
)
def test_a_view_over_the_label_or_derived_is_refused(
    client: TestClient, column: str, dtype: str
) -> None:
    body = _view(f"leak_{column}", "stroke_outcomes", "event_timestamp", (column, dtype))
    response = client.post("/features", headers=WRITE, json=body)
    assert response.status_code == 422, response.text
    assert "label" in response.json()["message"] and column in response.json()["message"]


@pytest.fixture(scope="module")
def legacy_leaky_view(client: TestClient) -> str:
    """A view over the label and PII applied straight to the registry (as an older release
    or `feast apply` could have): the API must still refuse to serve or train on it."""
    from feast import FeatureView, Field
    from feast.types import Float64, Int64, String

    from potluck.offline.source import PotluckSource

    repo = client.app.state.repo  # type: ignore[attr-defined]
    entity = repo.store.registry.get_entity("patient", repo.store.project)
    view = FeatureView(
        name="legacy_leaky",
        entities=[entity],
        ttl=timedelta(days=3650),
        schema=[
            Field(name="stroke_occurred", dtype=Int64),
            Field(name="stroke_probability", dtype=Float64),
            Field(name="diabetes", dtype=Int64),
        ],
        source=PotluckSource(
            name="legacy_leaky_source",
            source="stroke_outcomes",
            table="stroke_outcomes",
            timestamp_field="event_timestamp",
        ),
    )
    pii_view = FeatureView(
        name="legacy_pii",
        entities=[entity],
        ttl=timedelta(days=3650),
        schema=[Field(name="insurance_id", dtype=String), Field(name="gender", dtype=String)],
        source=PotluckSource(
            name="legacy_pii_source",
            source="patient_demographics",
            table="patient_demographics",
            timestamp_field="registration_date",
        ),
    )
    repo.store.apply([view, pii_view])
    repo.store.refresh_registry()
    return "legacy_leaky"


@pytest.mark.parametrize(
    "ref",
    ["legacy_leaky:stroke_occurred", "legacy_leaky:stroke_probability", "legacy_pii:insurance_id"],
)
def test_feature_services_refuse_label_and_pii(
    client: TestClient, legacy_leaky_view: str, ref: str
) -> None:
    body = {"name": "leaky_service", "features": ["clinical_statistics:bmi", ref]}
    response = client.post("/feature-services", headers=WRITE, json=body)
    assert response.status_code == 422, response.text
    assert ref.split(":")[1] in response.json()["message"]


def test_training_refuses_the_deployment_label_under_another_label(
    client: TestClient, legacy_leaky_view: str
) -> None:
    body = {
        "name": "label_as_feature",
        "features": ["legacy_leaky:stroke_occurred", "legacy_leaky:stroke_probability"],
        "label": {**LABEL, "column": "diabetes"},
    }
    response = client.post("/models", headers=WRITE, json=body)
    assert response.status_code == 422, response.text
    message = response.json()["message"]
    assert "stroke_occurred" in message and "stroke_probability" in message


def test_listing_hides_contract_pii(client: TestClient, legacy_leaky_view: str) -> None:
    view = client.get("/features/legacy_pii", headers=READ).json()
    assert [f["name"] for f in view["fields"]] == ["gender"]
    assert view["pii_fields_hidden"] == 1
