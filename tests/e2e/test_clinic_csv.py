"""A real-world-shaped CSV (no timestamps, ``N/A`` numbers, fractional ages, an ``Unknown``
category, every positive first) brought in with ``potluck load --time``, trained with
``--split stratified``; and every predictable training failure named, through the CLI
(``potluck train`` exits 1 with the message) and the API (the ``POST /models`` job fails
with the message, never ``internal_error``).

The test-only ``clinic`` deployment is used as a project folder by the CLI and as
``package.module:NAME`` in process (one process holds one ``potluck_deployment`` module).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from potluck.settings import Settings
from tests.deployments.clinic.potluck_deployment import make_csv

ROOT = Path(__file__).resolve().parents[2]
CLINIC = ROOT / "tests" / "deployments" / "clinic"
MODULE = "tests.deployments.clinic.potluck_deployment:DEPLOYMENT"
WRITE = {"Authorization": "Bearer clinic-write"}
STAMP = datetime(2024, 6, 1, tzinfo=UTC)


def cli(home: Path, *args: str, deployment: str = str(CLINIC)) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "POTLUCK_HOME": str(home),
        "POTLUCK_PROFILE": "embedded",
        "POTLUCK_DEPLOYMENT": deployment,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
        "COLUMNS": "200",
    }
    env.pop("POTLUCK_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "potluck.cli", *args],
        env=env,
        cwd=home.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )


def said(proc: subprocess.CompletedProcess[str]) -> str:
    return " ".join((proc.stdout + proc.stderr).split())


def test_real_world_csv_loads_and_trains_stratified(tmp_path: Path) -> None:
    csv = tmp_path / "stroke.csv"
    share = make_csv(csv)
    assert 0.02 < share < 0.2
    assert csv.read_text().splitlines()[1].endswith(",1")  # positives first
    home = tmp_path / "home"

    proc = cli(home, "load", "patients", str(csv))
    assert proc.returncode == 1
    assert "missing column(s): recorded_at" in said(proc)
    assert "pass --time ISO to stamp every row" in said(proc)

    out = tmp_path / "load.json"
    proc = cli(home, "load", "patients", str(csv), "--time", "2024-06-01", "--json-out", str(out))
    assert proc.returncode == 0, said(proc)
    assert json.loads(out.read_text())["rows"] == 1500
    for step in (("apply",), ("training-set",)):
        proc = cli(home, *step)
        assert proc.returncode == 0, said(proc)

    out = tmp_path / "train.json"
    proc = cli(home, "train", "--split", "stratified", "--seed", "3", "--json-out", str(out))
    assert proc.returncode == 0, said(proc)
    trained = json.loads(out.read_text())
    assert trained["metrics"]["roc_auc"] > 0.7, trained
    assert trained["oracle"] == {}  # the deployment declares none

    proc = cli(home, "train", "--split", "time")
    assert proc.returncode == 1
    message = said(proc)
    assert "the time split leaves a single class on one side" in message
    assert "1500 of 1500 rows share their timestamp" in message
    assert "use more rows or --split stratified" in message
    assert "Traceback" not in message and "internal" not in message


def _n_a_rows(path: Path, rows: int) -> None:
    lines = ["id,age,bmi,smoking_status,postcode,stroke"]
    lines += [f"{i},N/A,,,N/A,{i % 2}" for i in range(1, rows + 1)]
    path.write_text("\n".join(lines) + "\n")


def _tiny(path: Path) -> None:
    make_csv(path, rows=1500)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:5] + lines[-4:]) + "\n")  # 4 positives, 4 negatives


# name -> (write the CSV, split, message)
FAILURES: dict[str, tuple[Callable[[Path], Any], str, str]] = {
    "single_class": (make_csv, "time", "the time split leaves a single class on one side"),
    "identifier": (
        lambda p: make_csv(p, unique_postcodes=True),
        "stratified",
        "categorical feature 'postcode' has 1125 distinct values in 1125 rows, more than the "
        "model supports",
    ),
    "all_null": (
        lambda p: _n_a_rows(p, 60),
        "stratified",
        "every feature is null in every row: age, bmi, smoking_status, postcode",
    ),
    "too_few": (_tiny, "stratified", "too few labelled rows to train and test (6 train, 2 test"),
}


def _home(tmp_path: Path, write: Callable[[Path], Any]) -> Settings:
    """A home with the CSV loaded, the repo applied and the training set built, in process."""
    from potluck.features.repo import FeatureRepo
    from potluck.ingest import load
    from potluck.workflows.modeling import build_training_set

    settings = Settings(
        home=tmp_path / "home",
        profile="embedded",
        deployment=MODULE,
        api_keys={"clinic-write": "read,write"},
    )
    csv = tmp_path / "patients.csv"
    write(csv)
    load(settings, "patients", csv, stamp=STAMP)
    repo = FeatureRepo(settings)
    repo.apply()
    build_training_set(settings, repo)
    return settings


@pytest.mark.parametrize("case", list(FAILURES))
def test_training_failures_are_named_in_cli_and_api(tmp_path: Path, case: str) -> None:
    from potluck.api.main import create_app

    write, split, message = FAILURES[case]
    settings = _home(tmp_path, write)

    proc = cli(settings.home, "train", "--split", split, deployment=MODULE)
    assert proc.returncode == 1, said(proc)
    assert "error (model_error)" in said(proc)
    assert message in said(proc)
    assert "Traceback" not in said(proc)

    body = {
        "name": "clinic_api",
        "split": split,
        "feature_service": "clinic_v1",
        "label": {"source": "patients", "column": "stroke"},
    }
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        response = client.post("/models", headers=WRITE, json=body)
        assert response.status_code == 202, response.text
        job_id = response.json()["job_id"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            job = client.get(f"/jobs/{job_id}", headers=WRITE).json()
            if job["state"] in ("succeeded", "failed"):
                break
            time.sleep(0.1)
    assert job["state"] == "failed", job
    assert job["error"]["code"] == "model_error", job["error"]
    assert message in job["error"]["message"]
