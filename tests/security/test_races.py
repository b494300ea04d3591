"""Defect 8: creation is atomic -- two requests racing on one name: one 201, one 409."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import READ, WRITE

pytestmark = pytest.mark.xdist_group("api")


def _race(client: TestClient, path: str, bodies: list[dict[str, Any]]) -> list[Any]:
    barrier = threading.Barrier(len(bodies))
    answers: list[Any] = [None] * len(bodies)

    def post(i: int) -> None:
        barrier.wait()
        answers[i] = client.post(path, headers=WRITE, json=bodies[i])

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return answers


@pytest.mark.parametrize("attempt", range(3))
def test_feature_services_race(client: TestClient, attempt: int) -> None:
    name = f"raced_service_{attempt}"
    bodies = [
        {"name": name, "features": ["clinical_statistics:bmi"]},
        {"name": name, "features": ["clinical_statistics:heart_rate"]},
    ]
    answers = _race(client, "/feature-services", bodies)
    assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
    winner = next(i for i, a in enumerate(answers) if a.status_code == 201)
    assert answers[winner].json()["features"] == bodies[winner]["features"]
    stored = {s["name"]: s for s in client.get("/feature-services", headers=READ).json()}
    assert stored[name]["features"] == bodies[winner]["features"]


@pytest.mark.parametrize("attempt", range(2))
def test_feature_views_race(client: TestClient, attempt: int) -> None:
    name = f"raced_view_{attempt}"
    bodies = [
        {
            "name": name,
            "entities": ["patient"],
            "fields": [{"name": column, "dtype": "float64"}],
            "source": "clinical_measurements",
            "timestamp_field": "visit_date",
        }
        for column in ("bmi", "cholesterol_level")
    ]
    answers = _race(client, "/features", bodies)
    assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
    winner = next(i for i, a in enumerate(answers) if a.status_code == 201)
    fields = [f["name"] for f in answers[winner].json()["fields"]]
    assert fields == [bodies[winner]["fields"][0]["name"]]
