"""Faults on the services profile: PostgreSQL stops in the middle of a retrieval or a
materialization. The error names the source and its connector; once the server is
back, a retried materialization completes with every entity once, nothing lost.

This module starts a PostgreSQL server of its own (it is stopped on purpose), and
uses the session's S3 and Redis servers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pytest

from potluck import devservices
from potluck.connectors import ReadRequest
from potluck.connectors.postgres import PostgresConnector
from potluck.devservices import Server
from potluck.errors import SourceError
from potluck.features.repo import FeatureRepo
from potluck.settings import Settings, SourceOverride
from tests.integration.services_harness import (
    AS_OF,
    PATIENTS,
    build,
    offline_at,
    plain,
    services_settings,
)

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("services")]

# Three views on PostgreSQL, so one can fail after another has succeeded.
ON_POSTGRES = {
    "patient_demographics": SourceOverride(kind="postgres"),
    "hospitalization_metrics": SourceOverride(kind="postgres"),
    "hospital_administration": SourceOverride(kind="sqlite"),
}
REFS = [
    "clinical_statistics:bmi",
    "patient_demographics:gender",
    "hospitalization_metrics:days_since_admission",
    "lifestyle_factors:smoking_status",
    "computed_risk_metrics:risk_score",
]


@dataclass
class Deployment:
    settings: Settings
    repo: FeatureRepo
    server: Server

    def restart(self) -> None:
        devservices.stop(self.server)  # quiet if already stopped
        devservices.start_postgres(self.server.root, self.server.port, "postgres")


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory: pytest.TempPathFactory, s3_server: Server, redis_server: Server
) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("faults")
    server = devservices.start_postgres(root / "pg", devservices.free_port(), "postgres")
    try:
        settings = services_settings(root / "home", server, s3_server, redis_server, ON_POSTGRES)
        repo, _ = build(settings, "stroke_risk_v1")
        yield Deployment(settings, repo, server)
    finally:
        devservices.stop(server)


@pytest.fixture
def stop_on_postgres_read(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[int], None]]:
    """Arm: the ``n``-th PostgreSQL read from now first stops the server, then runs."""
    real = PostgresConnector.read
    calls = {"n": 0, "stop_at": 0}

    def read(self: PostgresConnector, request: ReadRequest) -> Any:
        calls["n"] += 1
        if calls["n"] == calls["stop_at"]:
            devservices.stop(deployment.server)
        return real(self, request)

    def arm(n: int) -> None:
        calls["n"], calls["stop_at"] = 0, n

    monkeypatch.setattr(PostgresConnector, "read", read)
    yield arm
    monkeypatch.undo()
    deployment.restart()


def _redis_keys(settings: Settings) -> int:
    import redis

    client = redis.Redis(host=settings.redis.host, port=settings.redis.port)
    project = settings.project.encode()
    return sum(1 for key in client.scan_iter(count=1000) if key.endswith(project))


def test_postgres_stopping_mid_retrieval_names_the_source(
    deployment: Deployment, stop_on_postgres_read: Callable[[int], None]
) -> None:
    from potluck.features.retrieval import historical_features

    entity = pd.DataFrame({"patient_id": ["P00000001", "P00000002"], "event_timestamp": AS_OF})
    stop_on_postgres_read(2)  # clinical_statistics is read; the next PostgreSQL view is not
    with pytest.raises(SourceError) as raised:
        historical_features(deployment.repo, entity, REFS)
    error = raised.value
    assert error.connector == "postgres"
    assert error.source in {"patient_demographics", "hospitalization_metrics"}
    assert f"source '{error.source}' (postgres connector)" in error.message
    assert "127.0.0.1" in error.message  # says which server


def test_retried_materialization_after_a_mid_run_stop_loses_and_duplicates_nothing(
    deployment: Deployment, stop_on_postgres_read: Callable[[int], None]
) -> None:
    from potluck.online.materialize import materialize
    from potluck.online.reads import online_features

    # A view is read twice (count, then Feast's pull): the 3rd read is the next PostgreSQL
    # view's, after one has been fully materialized.
    stop_on_postgres_read(3)
    with pytest.raises(SourceError) as raised:
        materialize(deployment.repo, end=AS_OF)
    assert raised.value.connector == "postgres"
    assert raised.value.source in {
        "clinical_measurements",
        "patient_demographics",
        "hospitalization_metrics",
    }

    deployment.restart()
    summary = materialize(deployment.repo, end=AS_OF)  # the retry, on the same connectors
    assert set(summary.rows) == {
        "clinical_statistics",
        "lifestyle_factors",
        "medical_conditions",
        "patient_demographics",
        "hospitalization_metrics",
        "computed_risk_metrics",
    }
    assert _redis_keys(deployment.settings) == PATIENTS  # one hash per patient: none twice
    ids = [f"P{i:08d}" for i in range(1, PATIENTS + 1)]
    online = online_features(deployment.repo, REFS, ids, now=AS_OF)
    offline = offline_at(deployment.repo, ids, REFS, AS_OF)
    names = [ref.split(":")[1] for ref in REFS]
    for row, (_, expected) in zip(online, offline.iterrows(), strict=True):
        assert row["_found"], row["patient_id"]  # nothing lost
        for name in names:
            assert plain(row[name]) == plain(expected[name]), (row["patient_id"], name)
