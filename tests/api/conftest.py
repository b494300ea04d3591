"""One small embedded deployment per test session, served through the real ASGI app.

Seeded with potluck.workflows into a temporary POTLUCK_HOME (1,500 patients,
anchored at today's midnight UTC because online reads apply TTLs relative to the
read time), registered, engineered and materialized; no model is trained here:
the tests train through the API.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from potluck.settings import Settings

PATIENTS = 1500
READ_KEY = "test-read-key"
WRITE_KEY = "test-write-key"
READ = {"Authorization": f"Bearer {READ_KEY}"}
WRITE = {"Authorization": f"Bearer {WRITE_KEY}"}
LABEL = {"source": "stroke_outcomes", "column": "stroke_occurred"}


@dataclass(frozen=True)
class Deployment:
    settings: Settings
    as_of: datetime


@pytest.fixture(scope="session")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    from potluck.features.repo import FeatureRepo
    from potluck.online.materialize import materialize
    from potluck.workflows import data

    home: Path = tmp_path_factory.mktemp("api") / "home"
    settings = Settings(
        home=home, profile="embedded", api_keys={READ_KEY: "read", WRITE_KEY: "read,write"}
    )
    as_of = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    data.seed(settings, size=PATIENTS, seed=11, as_of=as_of)
    repo = FeatureRepo(settings)
    repo.apply()
    data.engineer(settings)
    materialize(repo, end=as_of)
    return Deployment(settings=settings, as_of=as_of)


@pytest.fixture(scope="session")
def client(deployment: Deployment) -> Iterator[TestClient]:
    from potluck.api.main import create_app

    with TestClient(create_app(deployment.settings), raise_server_exceptions=False) as test_client:
        yield test_client


def wait_for_job(client: TestClient, job_id: str, timeout: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    seen_progress: list[float] = []
    while time.monotonic() < deadline:
        job = client.get(f"/jobs/{job_id}", headers=READ).json()
        seen_progress.append(job["progress"])
        if job["state"] in ("succeeded", "failed"):
            job["seen_progress"] = seen_progress
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s: {job}")


def train(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post("/models", headers=WRITE, json={"label": LABEL, **body})
    assert response.status_code == 202, response.text
    job = wait_for_job(client, response.json()["job_id"])
    assert job["state"] == "succeeded", job["error"]
    return job


@pytest.fixture(scope="session")
def stroke_model(client: TestClient) -> dict[str, Any]:
    """An sklearn classifier on stroke_risk_v1, trained and promoted through the API."""
    job = train(client, name="stroke_api", framework="sklearn", feature_service="stroke_risk_v1")
    version = job["result"]["version"]
    promoted = client.post(
        f"/models/stroke_api/versions/{version}/promote",
        headers=WRITE,
        json={"alias": "production"},
    )
    assert promoted.status_code == 200, promoted.text
    return job["result"]
