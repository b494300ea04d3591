"""Defect 7: a capped job queue (429 + Retry-After), job records that survive a restart
(``interrupted``), and the MLflow state of a killed training job marked failed."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import LABEL, READ, WRITE

pytestmark = pytest.mark.xdist_group("api")


def _blocking(release: threading.Event) -> Any:
    def work(progress: Any) -> dict[str, Any]:
        release.wait(30)
        return {}

    return work


def test_the_queue_is_capped_with_retry_after(client: TestClient, tmp_path: Path) -> None:
    from potluck.services.jobs import JobRunner

    app: Any = client.app
    original = app.state.jobs
    runner = JobRunner(folder=tmp_path / "jobs", max_pending=2)
    release = threading.Event()
    app.state.jobs = runner
    try:
        runner.submit("block", _blocking(release))
        runner.submit("block", _blocking(release))
        body = {"name": "capped", "feature_service": "stroke_risk_v1", "label": LABEL}
        response = client.post("/models", headers=WRITE, json=body)
        assert response.status_code == 429, response.text
        assert int(response.headers["retry-after"]) > 0
        assert response.json()["code"] == "too_many_requests"
    finally:
        release.set()
        runner.shutdown()
        app.state.jobs = original


def test_job_records_survive_a_restart_as_interrupted(tmp_path: Path) -> None:
    from potluck.services.jobs import JobRunner

    release = threading.Event()
    first = JobRunner(folder=tmp_path / "jobs")
    running = first.submit("train", _blocking(release))
    queued = first.submit("train", _blocking(release))
    done = first.submit("other", lambda progress: {"n": 1})
    # the "kill -9": a new runner on the same folder, the old one never finishes its jobs
    second = JobRunner(folder=tmp_path / "jobs")
    for job in (running, queued):
        again = second.get(job.id)
        assert again.state == "interrupted" and again.error is not None
        assert again.error["code"] == "interrupted"
    assert {running.id, queued.id} <= {j.id for j in second.interrupted}
    assert second.get(done.id).state in ("queued", "interrupted", "succeeded")
    release.set()
    first.shutdown()
    second.shutdown()


def test_running_jobs_are_never_evicted(tmp_path: Path) -> None:
    from potluck.services.jobs import JobRunner

    release = threading.Event()
    runner = JobRunner(keep=3, folder=tmp_path / "jobs", max_pending=100)
    slow = runner.submit("slow", _blocking(release))
    quick = [runner.submit("q", lambda progress: {}) for _ in range(1)]
    release.set()
    runner.wait(slow.id, 10)
    for _ in range(10):
        job = runner.submit("q", lambda progress: {})
        runner.wait(job.id, 10)
    assert runner.get(slow.id).state == "succeeded"  # on file if not in memory
    assert runner.get(quick[0].id).state == "succeeded"
    runner.shutdown()


def test_a_killed_training_leaves_no_running_run_or_pending_model(tmp_path: Path) -> None:
    from potluck.ml.registry import EXPERIMENT, configure_mlflow, mark_interrupted
    from potluck.settings import Settings

    settings = Settings(home=tmp_path / "home")
    mlflow = configure_mlflow(settings)
    client = mlflow.MlflowClient()
    experiment = client.get_experiment_by_name(EXPERIMENT).experiment_id
    job_id = "a" * 32
    run = client.create_run(experiment, tags={"potluck.job_id": job_id})
    other = client.create_run(experiment, tags={"potluck.job_id": "b" * 32})
    model = client.create_logged_model(experiment, source_run_id=run.info.run_id)
    assert str(model.status).endswith("PENDING")
    counts = mark_interrupted(settings, [job_id])
    assert counts["runs"] == 1 and counts["logged_models"] == 1
    assert client.get_run(run.info.run_id).info.status == "FAILED"
    assert str(client.get_logged_model(model.model_id).status).endswith("FAILED")
    assert client.get_run(other.info.run_id).info.status == "RUNNING"  # not ours: untouched


def test_an_interrupted_job_reads_back_through_the_api(client: TestClient, tmp_path: Path) -> None:
    from potluck.services.jobs import JobRunner

    app: Any = client.app
    original = app.state.jobs
    release = threading.Event()
    before = JobRunner(folder=tmp_path / "jobs")
    job = before.submit("train", _blocking(release))
    app.state.jobs = JobRunner(folder=tmp_path / "jobs")
    try:
        answer = client.get(f"/jobs/{job.id}", headers=READ)
        assert answer.status_code == 200, answer.text
        assert answer.json()["state"] == "interrupted"
    finally:
        release.set()
        before.shutdown()
        app.state.jobs.shutdown()
        app.state.jobs = original
