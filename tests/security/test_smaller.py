"""Defect 10: serving alias, no server paths in errors, 401 before body parsing, ``limit``,
exactly-one-of in the OpenAPI schema, ``OPTIONS`` with the right ``Allow``."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import READ, WRITE, Deployment, train

pytestmark = pytest.mark.xdist_group("api")


def test_a_new_version_is_served_only_once_promoted(
    client: TestClient, stroke_model: dict[str, Any]
) -> None:
    job = train(
        client,
        name="stroke_api",
        framework="sklearn",
        features=["medical_conditions:hypertension", "request_time_features:age"],
        hyperparameters={"n_estimators": 20},
    )
    new = job["result"]["version"]
    assert new != stroke_model["version"]
    body = {"model": "stroke_api", "entity_ids": ["P00000001"]}
    answer = client.post("/predictions/online", headers=READ, json=body).json()
    assert answer["version"] == stroke_model["version"] and answer["alias"] == "production"
    explicit = client.post("/predictions/online", headers=READ, json={**body, "version": new})
    assert explicit.json()["version"] == new and explicit.json()["alias"] is None


def test_an_unpromoted_model_is_not_served(client: TestClient) -> None:
    train(
        client,
        name="never_promoted",
        framework="sklearn",
        features=["medical_conditions:hypertension"],
        hyperparameters={"n_estimators": 10},
    )
    body = {"model": "never_promoted", "entity_ids": ["P00000001"]}
    response = client.post("/predictions/online", headers=READ, json=body)
    assert response.status_code == 404, response.text
    assert "production" in response.json()["message"]


def test_errors_show_no_server_paths(
    client: TestClient, deployment: Deployment, stroke_model: dict[str, Any]
) -> None:
    folder = deployment.settings.home.resolve() / "batch" / "junk"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bad.parquet").write_bytes(b"not parquet at all")
    body = {"model": "stroke_api", "input_path": "junk/bad.parquet"}
    response = client.post("/predictions/batch", headers=READ, json=body)
    assert response.status_code == 422, response.text
    home = str(deployment.settings.home.resolve())
    assert home not in response.text and "/tmp" not in response.text


def test_scrub_paths() -> None:
    from potluck.api.guards import scrub_paths

    text = "cannot open /srv/data/x.db nor /home/u/h/batch/a.parquet (http://127.0.0.1:9/b/c)"
    out = scrub_paths(text, "/home/u/h")
    assert "/srv/data" not in out and "/home/u" not in out
    assert "<home>/batch/a.parquet" in out and "http://127.0.0.1:9/b/c" in out


@pytest.mark.parametrize("path", ["/predictions/online", "/features", "/models"])
def test_malformed_json_without_a_key_is_401(client: TestClient, path: str) -> None:
    response = client.post(
        path, headers={"Content-Type": "application/json"}, content=b'{"entity_ids": ['
    )
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("path", ["/features", "/feature-services", "/models"])
def test_limit_is_honoured(client: TestClient, stroke_model: dict[str, Any], path: str) -> None:
    everything = client.get(path, headers=READ).json()
    if path == "/models" and len(everything) < 2:  # alone, only stroke_model is registered
        features = ["medical_conditions:hypertension", "request_time_features:age"]
        train(client, name="a_second_model", framework="sklearn", features=features)
        everything = client.get(path, headers=READ).json()
    assert len(everything) >= 2
    one = client.get(path, headers=READ, params={"limit": 1}).json()
    # other tests of this worker may register a model (or a version) between the calls:
    # the one returned is the first of the listing before or after it
    after = client.get(path, headers=READ).json()
    assert len(one) == 1
    assert one[0] in (everything[0], after[0])
    assert client.get(path, headers=READ, params={"limit": 0}).status_code == 422


def test_openapi_states_exactly_one_of(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert schemas["TrainingCreate"]["oneOf"] == [
        {"required": ["feature_service"]},
        {"required": ["features"]},
    ]
    assert len(schemas["OnlinePredictionCreate"]["oneOf"]) == 2
    assert len(schemas["BatchPredictionCreate"]["oneOf"]) == 3
    assert schemas["BatchPredictionCreate"]["allOf"] == [
        {"not": {"required": ["version", "alias"]}}
    ]


def test_explicit_nulls_are_refused_like_the_schema_says(client: TestClient) -> None:
    body = {"entity_ids": ["P00000001"], "rows": None}
    response = client.post("/predictions/online", headers=READ, json=body)
    assert response.status_code == 422, response.text


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/features", {"GET", "HEAD", "POST", "OPTIONS"}),
        ("/feature-services", {"GET", "HEAD", "POST", "OPTIONS"}),
        ("/models", {"GET", "HEAD", "POST", "OPTIONS"}),
        ("/predictions/online", {"POST", "OPTIONS"}),
        ("/models/m/versions/1/promote", {"POST", "OPTIONS"}),
    ],
)
def test_options_answers_the_allowed_methods(
    client: TestClient, path: str, methods: set[str]
) -> None:
    response = client.options(path)
    assert response.status_code in (200, 204), response.text
    assert set(response.headers["allow"].split(", ")) == methods
    wrong = client.delete(path, headers=WRITE)
    assert wrong.status_code == 405
    assert set(wrong.headers["allow"].split(", ")) == methods


@pytest.mark.parametrize(
    "path", ["/features", "/models", "/health", "/features/clinical_statistics"]
)
def test_a_query_parameter_the_route_does_not_take_is_422(client: TestClient, path: str) -> None:
    """A misspelt ``limt`` would otherwise answer the default page as if it were honoured."""
    response = client.get(path, headers=READ, params={"limt": "1", "\x01é": "x"})
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "invalid_request"
    assert {p["loc"] for p in body["problems"]} == {"query.limt", "query.\x01é"}
    assert "unknown query parameter" in body["message"]
    if path in ("/features", "/models"):
        assert "this route takes limit" in body["message"]
    assert client.get(path, headers=READ).status_code == 200  # the same route, no stray name


def test_an_unknown_query_parameter_without_a_key_is_401(client: TestClient) -> None:
    response = client.get("/features", params={"limt": "1"})
    assert response.status_code == 401, response.text
