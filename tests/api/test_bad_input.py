"""Every bad input is a 4xx JSON body {code, message} naming the problem -- never a 5xx."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import LABEL, READ, WRITE

pytestmark = pytest.mark.xdist_group("api")

GOOD_VIEW: dict[str, Any] = {
    "name": "bad_input_view",
    "entities": ["patient"],
    "fields": [{"name": "heart_rate", "dtype": "int64"}],
    "source": "clinical_measurements",
    "timestamp_field": "visit_date",
}
V1 = "stroke_risk_v1"

CASES: list[tuple[str, str, str, dict[str, Any], int, list[str]]] = [
    # id, method, path, body, status, words the message must contain
    (
        "view-unknown-source",
        "POST",
        "/features",
        {**GOOD_VIEW, "source": "nowhere"},
        422,
        ["unknown source 'nowhere'"],
    ),
    (
        "view-every-problem",
        "POST",
        "/features",
        {
            **GOOD_VIEW,
            "name": "clinical_statistics",
            "entities": ["patient", "doctor"],
            "fields": [
                {"name": "bmi", "dtype": "string"},
                {"name": "no_such_column", "dtype": "float64"},
                {"name": "bmi", "dtype": "float64"},
            ],
            "timestamp_field": "heart_rate",
        },
        422,
        [
            "'clinical_statistics' already exists",
            "unknown entities: doctor",
            "'bmi' is declared string but the column is double",
            "column 'no_such_column' is not in",
            "'bmi' is declared twice",
            "timestamp field 'heart_rate' is int64",
        ],
    ),
    (
        "view-bad-dtype",
        "POST",
        "/features",
        {**GOOD_VIEW, "fields": [{"name": "bmi", "dtype": "decimal"}]},
        422,
        ["body.fields[0].dtype"],
    ),
    (
        "view-bad-name",
        "POST",
        "/features",
        {**GOOD_VIEW, "name": "x; DROP TABLE y"},
        422,
        ["body.name"],
    ),
    (
        "view-unknown-key",
        "POST",
        "/features",
        {**GOOD_VIEW, "colour": "red"},
        422,
        ["body.colour", "Extra inputs"],
    ),
    (
        "view-missing",
        "GET",
        "/features/no_such_view",
        {},
        404,
        ["no feature view named 'no_such_view'"],
    ),
    (
        "service-pii",
        "POST",
        "/feature-services",
        {"name": "leaky", "features": ["patient_demographics:first_name"]},
        422,
        ["PII-tagged", "first_name"],
    ),
    (
        "service-unknown-refs",
        "POST",
        "/feature-services",
        {"name": "s", "features": ["a:b", "clinical_statistics:nope"]},
        404,
        ["a:b", "clinical_statistics:nope"],
    ),
    (
        "service-duplicate",
        "POST",
        "/feature-services",
        {"name": V1, "features": ["clinical_statistics:bmi"]},
        409,
        [f"'{V1}' already exists"],
    ),
    (
        "train-label-and-pii",
        "POST",
        "/models",
        {
            "name": "m",
            "features": ["medical_conditions:hypertension", "patient_demographics:insurance_id"],
            "label": {**LABEL, "column": "hypertension"},
        },
        422,
        ["contains the label 'hypertension'", "PII fields: insurance_id"],
    ),
    (
        "train-both-feature-sets",
        "POST",
        "/models",
        {
            "name": "m",
            "feature_service": V1,
            "features": ["clinical_statistics:bmi"],
            "label": LABEL,
        },
        422,
        ["exactly one of 'feature_service' and 'features'"],
    ),
    (
        "train-unknown-service",
        "POST",
        "/models",
        {"name": "m", "feature_service": "nope", "label": LABEL},
        404,
        ["nope", "stroke_risk_v1"],
    ),
    (
        "train-unknown-framework",
        "POST",
        "/models",
        {"name": "m", "feature_service": V1, "framework": "torch", "label": LABEL},
        422,
        ["body.framework"],
    ),
    (
        "train-bad-split",
        "POST",
        "/models",
        {"name": "m", "feature_service": V1, "test_fraction": 0.9, "label": LABEL},
        422,
        ["body.test_fraction"],
    ),
    (
        "train-label-column",
        "POST",
        "/models",
        {
            "name": "m",
            "feature_service": V1,
            "label": {**LABEL, "column": "no_label"},
        },
        422,
        ["label column 'no_label'"],
    ),
    (
        "train-label-source",
        "POST",
        "/models",
        {"name": "m", "feature_service": V1, "label": {**LABEL, "source": "nowhere"}},
        422,
        ["unknown label source 'nowhere'"],
    ),
    (
        "train-label-key-from-the-request",
        "POST",
        "/models",
        {"name": "m", "feature_service": V1, "label": {**LABEL, "entity_key": "first_name"}},
        422,
        ["body.label.entity_key", "Extra inputs are not permitted"],
    ),
    (
        "train-time-range",
        "POST",
        "/models",
        {
            "name": "m",
            "feature_service": V1,
            "label": LABEL,
            "time_range": {"start": "2026-01-02", "end": "2025-01-01"},
        },
        422,
        ["start must not be after"],
    ),
    (
        "promote-unknown-model",
        "POST",
        "/models/no_model/versions/1/promote",
        {},
        404,
        ["'no_model' version 1"],
    ),
    (
        "promote-bad-alias",
        "POST",
        "/models/stroke_api/versions/1/promote",
        {"alias": "../prod"},
        422,
        ["body.alias"],
    ),
    (
        "promote-bad-version",
        "POST",
        "/models/stroke_api/versions/0/promote",
        {},
        422,
        ["path.version"],
    ),
    ("model-unknown", "GET", "/models/no_model", {}, 404, ["'no_model' is not registered"]),
    ("model-bad-name", "GET", "/models/bad'name", {}, 422, ["path.name"]),
    ("job-unknown", "GET", "/jobs/deadbeef", {}, 404, ["no job 'deadbeef'"]),
    (
        "online-no-input",
        "POST",
        "/predictions/online",
        {},
        422,
        ["exactly one of 'entity_ids' and 'rows'"],
    ),
    (
        "online-too-many",
        "POST",
        "/predictions/online",
        {"entity_ids": ["P1"] * 1001},
        422,
        ["body.entity_ids"],
    ),
    (
        "online-bad-id",
        "POST",
        "/predictions/online",
        {"entity_ids": ["P1' OR 1=1"]},
        422,
        ["body.entity_ids[0]"],
    ),
    (
        "online-unknown-model",
        "POST",
        "/predictions/online",
        {"model": "no_model", "entity_ids": ["P00000001"]},
        404,
        ["no_model"],
    ),
    (
        "online-unknown-version",
        "POST",
        "/predictions/online",
        {"model": "stroke_api", "version": 99, "entity_ids": ["P00000001"]},
        404,
        ["version 99"],
    ),
    (
        "online-unknown-alias",
        "POST",
        "/predictions/online",
        {"model": "stroke_api", "alias": "staging", "entity_ids": ["P00000001"]},
        404,
        ["alias 'staging'"],
    ),
    (
        "online-unknown-features",
        "POST",
        "/predictions/online",
        {"model": "stroke_api", "rows": [{"bmi": 20, "shoe_size": 44}]},
        422,
        ["shoe_size"],
    ),
    (
        "online-bad-value",
        "POST",
        "/predictions/online",
        {"rows": [{"bmi": [1, 2]}]},
        422,
        ["body.rows[0].bmi"],
    ),
    (
        "batch-traversal",
        "POST",
        "/predictions/batch",
        {"model": "stroke_api", "input_path": "../seed.json"},
        422,
        ["input_path", "'../seed.json'"],
    ),
    (
        "batch-absolute",
        "POST",
        "/predictions/batch",
        {"model": "stroke_api", "input_path": "/etc/passwd.csv"},
        422,
        ["input_path", "'/etc/passwd.csv'"],
    ),
    (
        "batch-missing-file",
        "POST",
        "/predictions/batch",
        {"model": "stroke_api", "input_path": "missing.parquet"},
        422,
        ["'missing.parquet' does not exist"],
    ),
    (
        "batch-output-suffix",
        "POST",
        "/predictions/batch",
        {"model": "stroke_api", "input_path": "x.parquet", "output_path": "out.csv"},
        422,
        ["output_path must end with one of .parquet"],
    ),
    (
        "batch-two-frames",
        "POST",
        "/predictions/batch",
        {
            "entities": [{"patient_id": "P1", "event_timestamp": "2026-01-01"}],
            "input_path": "x.parquet",
        },
        422,
        ["exactly one of 'entities', 'input_path' and 'source'"],
    ),
    (
        "batch-bad-time",
        "POST",
        "/predictions/batch",
        {"entities": [{"patient_id": "P1", "event_timestamp": "yesterday"}]},
        422,
        ["body.entities[0].event_timestamp"],
    ),
    (
        "batch-entity-other-columns",
        "POST",
        "/predictions/batch",
        {
            "model": "stroke_api",
            "entities": [{"first_name": "P1", "event_timestamp": "2025-01-01T00:00:00"}],
        },
        422,
        ["entities[0]: give exactly patient_id, event_timestamp"],
    ),
    (
        "batch-source-columns",
        "POST",
        "/predictions/batch",
        {"model": "stroke_api", "source": {"source": "stroke_outcomes", "entity_key": "pid"}},
        422,
        ["body.source.entity_key", "Extra inputs are not permitted"],
    ),
    (
        "batch-source-pii-timestamp",
        "POST",
        "/predictions/batch",
        {
            "model": "stroke_api",
            "source": {"source": "patient_demographics", "timestamp_field": "date_of_birth"},
        },
        422,
        ["body.source.timestamp_field", "Extra inputs are not permitted"],
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_is_a_named_4xx(
    client: TestClient,
    stroke_model: dict[str, Any],
    method: str,
    path: str,
    body: dict[str, Any],
    status: int,
    words: list[str],
) -> None:
    response = client.request(method, path, headers=WRITE, json=body if method == "POST" else None)
    assert response.status_code == status, response.text
    payload = response.json()
    assert set(payload) >= {"code", "message"} and payload["code"]
    for word in words:
        assert word in payload["message"], (word, payload)


def test_invalid_json_is_422(client: TestClient) -> None:
    response = client.post(
        "/predictions/online",
        headers={**READ, "Content-Type": "application/json"},
        content=b'{"entity_ids": [',
    )
    assert response.status_code == 422
    assert response.json()["problems"][0]["type"] == "json_invalid"


def test_oversized_body_is_413(client: TestClient) -> None:
    body = b'{"entity_ids": ["' + b"x" * (9 * 1024 * 1024) + b'"]}'
    response = client.post(
        "/predictions/online", headers={**READ, "Content-Type": "application/json"}, content=body
    )
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"


def test_unknown_route_and_method_are_json(client: TestClient) -> None:
    assert client.get("/nope").json() == {"code": "not_found", "message": "Not Found"}
    assert client.delete("/features", headers=WRITE).json()["code"] == "method_not_allowed"


def test_validation_lists_every_problem(client: TestClient) -> None:
    response = client.post(
        "/models", headers=WRITE, json={"name": "", "framework": "torch", "label": {"column": 3}}
    )
    assert response.status_code == 422
    locations = {p["loc"] for p in response.json()["problems"]}
    assert {"body.name", "body.framework", "body.label.source", "body.label.column"} <= locations


def test_unexpected_error_is_an_opaque_500(deployment: Any) -> None:
    from potluck.api.main import create_app

    app = create_app(deployment.settings)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals at /srv/x.py line 3")

    with TestClient(app, raise_server_exceptions=False) as fresh:
        response = fresh.get("/boom")
    assert response.status_code == 500
    assert response.json() == {
        "code": "internal_error",
        "message": "internal error (see the server log)",
    }
    assert "Traceback" not in response.text and "secret" not in response.text
