"""Bearer API keys: missing/unknown -> 401, read key on a write endpoint -> 403."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import READ, WRITE

pytestmark = pytest.mark.xdist_group("api")

READ_ENDPOINTS = [
    ("GET", "/features"),
    ("GET", "/features/clinical_statistics"),
    ("GET", "/feature-services"),
    ("GET", "/models"),
    ("GET", "/models/stroke_api"),
    ("GET", "/jobs/0123"),
    ("GET", "/status"),
    ("POST", "/predictions/online"),
    ("POST", "/predictions/batch"),
]
WRITE_ENDPOINTS = [
    ("POST", "/features"),
    ("POST", "/feature-services"),
    ("POST", "/models"),
    ("POST", "/models/stroke_api/versions/1/promote"),
]


@pytest.mark.parametrize(("method", "path"), READ_ENDPOINTS + WRITE_ENDPOINTS)
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-a-key"}, {"Authorization": "Basic dXNlcjpwYXNz"}],
    ids=["missing", "unknown", "basic"],
)
def test_no_valid_key_is_401(
    client: TestClient, method: str, path: str, headers: dict[str, str]
) -> None:
    response = client.request(method, path, headers=headers, json={})
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "unauthenticated"
    assert response.headers["www-authenticate"] == "Bearer"
    assert "not-a-key" not in response.text  # a key is never echoed


@pytest.mark.parametrize(("method", "path"), WRITE_ENDPOINTS)
def test_read_key_on_write_endpoint_is_403(client: TestClient, method: str, path: str) -> None:
    response = client.request(method, path, headers=READ, json={})
    assert response.status_code == 403, response.text
    assert response.json() == {
        "code": "forbidden",
        "message": "this API key lacks the 'write' scope",
    }


def test_write_key_passes_auth_and_reaches_validation(client: TestClient) -> None:
    response = client.post("/features", headers=WRITE, json={})
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_request"


@pytest.mark.parametrize("path", ["/health", "/metrics", "/openapi.json", "/docs"])
def test_open_endpoints_need_no_key(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 200


def test_no_configured_keys_means_nobody_gets_in(tmp_path: object) -> None:
    from pathlib import Path

    from potluck.api.main import create_app
    from potluck.settings import Settings

    app = create_app(Settings(home=Path(str(tmp_path)) / "home", api_keys={}))
    with TestClient(app) as fresh:
        assert fresh.get("/features", headers=READ).status_code == 401
        assert fresh.get("/health").status_code == 200
