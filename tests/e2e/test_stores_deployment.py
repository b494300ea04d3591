"""The test-only ``stores`` deployment end to end, with no change to ``src/potluck``.

Its files are generated with the deployment's own generator, then brought in like any
user's data: ``load`` (CSV and Parquet) -> ``apply`` -> ``engineer`` -> ``training-set``
-> ``train`` -> ``materialize`` -> ``online`` -> ``predict`` through the CLI, and the same
deployment trained and served through the REST API (its app factory, in process).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from potluck.settings import Settings

STORES = Path(__file__).resolve().parents[1] / "deployments" / "stores"
SRC = str(Path(__file__).resolve().parents[2] / "src")
WRITE = {"Authorization": "Bearer stores-write"}


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("_stores_gen", STORES / "potluck_deployment.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module._generate


@dataclass(frozen=True)
class StoresRun:
    home: Path
    as_of: datetime
    tables: dict[str, pa.Table]
    out: dict[str, Any]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return cli(self.home, *args)


def cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "POTLUCK_HOME": str(home),
        "POTLUCK_PROFILE": "embedded",
        "POTLUCK_DEPLOYMENT": str(STORES),
        "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")]),
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "potluck.cli", *args],
        env=env,
        cwd=home.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def stores_run(tmp_path_factory: pytest.TempPathFactory) -> StoresRun:
    root = tmp_path_factory.mktemp("stores")
    home = root / "home"
    # online reads apply TTLs relative to now: anchor the data at today's midnight
    as_of = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    tables = _generator()(40, 3, as_of)
    pacsv.write_csv(tables["sales"], root / "sales.csv")
    pq.write_table(tables["targets"], root / "targets.parquet")
    out: dict[str, Any] = {}
    steps = [
        ("load_sales", ["load", "sales", str(root / "sales.csv")]),
        ("load_targets", ["load", "targets", str(root / "targets.parquet")]),
        ("apply", ["apply"]),
        ("engineer", ["engineer"]),
        ("training_set", ["training-set"]),
        ("train", ["train"]),
        ("materialize", ["materialize", "--end", as_of.isoformat()]),
        ("online", ["online", "1", "2", "999"]),
        ("predict", ["predict", *map(str, range(1, 41)), "999"]),
    ]
    for name, args in steps:
        target = root / f"{name}.json"
        proc = cli(home, *args, "--json-out", str(target))
        assert proc.returncode == 0, f"{name}: {proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
        out[name] = json.loads(target.read_text()) if target.exists() else None
    return StoresRun(home=home, as_of=as_of, tables=tables, out=out)


def _last_sales(tables: dict[str, pa.Table]) -> dict[int, dict[str, Any]]:
    rows = sorted(tables["sales"].to_pylist(), key=lambda r: r["day"])
    return {r["store_id"]: r for r in rows}  # the latest row per store wins


def _final_expected(tables: dict[str, pa.Table]) -> dict[int, float]:
    rows = sorted(tables["targets"].to_pylist(), key=lambda r: r["week_start"])
    return {r["store_id"]: r["expected_revenue"] for r in rows}


def test_loads_and_builds(stores_run: StoresRun) -> None:
    out = stores_run.out
    assert out["load_sales"]["rows"] == 40 * 56 and out["load_sales"]["connector"] == "parquet"
    assert out["load_targets"]["rows"] == 40 * 8
    assert out["engineer"]["store_ratios"] > 0
    training = out["training_set"]
    assert training["rows"] == 40 * 8
    assert training["columns"] == [
        "store_id", "event_timestamp", "next_week_revenue",
        "revenue", "visitors", "region", "revenue_per_visitor",
    ]  # fmt: skip
    assert "manager_email" not in training["columns"]  # PII is never a feature


def test_cli_model_is_near_the_oracle(stores_run: StoresRun) -> None:
    trained = stores_run.out["train"]
    assert trained["model_type"] == "regression"
    oracle_mae = trained["oracle"]["oracle_mae"]
    assert trained["metrics"]["mae"] < 2.5 * oracle_mae, trained


def test_online_features_are_the_last_loaded_row(stores_run: StoresRun) -> None:
    rows = {r["store_id"]: r for r in stores_run.out["online"]}
    last = _last_sales(stores_run.tables)
    for store in (1, 2):
        expected = last[store]
        assert rows[store]["_status"] == "ok"
        assert rows[store]["revenue"] == pytest.approx(expected["revenue"])
        assert rows[store]["visitors"] == expected["visitors"]
        assert rows[store]["region"] == expected["region"]
        ratio = expected["revenue"] / expected["visitors"]
        assert rows[store]["revenue_per_visitor"] == pytest.approx(ratio)
    assert stores_run.as_of - last[1]["day"] < timedelta(days=14)  # inside the TTL
    assert rows[999]["_status"] == "unknown_entity" and rows[999]["_found"] is False


def test_cli_predictions_match_the_oracle(stores_run: StoresRun) -> None:
    rows = {r["store_id"]: r for r in stores_run.out["predict"]}
    assert rows[999]["status"] == "unknown_entity" and rows[999]["prediction"] is None
    expected = _final_expected(stores_run.tables)
    errors = [abs(rows[s]["prediction"] - expected[s]) for s in expected]
    assert all(rows[s]["status"] == "ok" for s in expected)
    assert sum(errors) / len(errors) < 2.5 * stores_run.out["train"]["oracle"]["oracle_mae"]


def test_unknown_store_alone_exits_1(stores_run: StoresRun) -> None:
    proc = stores_run.cli("online", "999")
    assert proc.returncode == 1
    assert "store '999' is unknown" in proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def api(stores_run: StoresRun) -> Iterator[TestClient]:
    from potluck.api.main import create_app

    settings = Settings(
        home=stores_run.home,
        profile="embedded",
        deployment=str(STORES),
        api_keys={"stores-write": "read,write"},
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def wait(client: TestClient, job_id: str, timeout: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/jobs/{job_id}", headers=WRITE).json()
        if job["state"] in ("succeeded", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def test_api_trains_and_predicts_the_same_deployment(
    stores_run: StoresRun, api: TestClient
) -> None:
    body = {
        "name": "stores_api",
        "model_type": "regression",
        "feature_service": "forecast_v1",
        "label": {"source": "targets", "column": "next_week_revenue"},
    }
    response = api.post("/models", headers=WRITE, json=body)
    assert response.status_code == 202, response.text
    job = wait(api, response.json()["job_id"])
    assert job["state"] == "succeeded", job["error"]
    assert job["result"]["metrics"]["mae"] < 2.5 * stores_run.out["train"]["oracle"]["oracle_mae"]
    version = job["result"]["version"]
    unpromoted = api.post(
        "/predictions/online", headers=WRITE, json={"model": "stores_api", "entity_ids": [1]}
    )
    assert unpromoted.status_code == 404  # a new version serves only once promoted
    promoted = api.post(f"/models/stores_api/versions/{version}/promote", headers=WRITE, json={})
    assert promoted.status_code == 200, promoted.text

    response = api.post(
        "/predictions/online",
        headers=WRITE,
        json={"model": "stores_api", "entity_ids": [1, "2", 999]},
    )
    assert response.status_code == 200, response.text
    rows = response.json()["predictions"]
    assert [r["status"] for r in rows] == ["ok", "ok", "unknown_entity"]
    last = _last_sales(stores_run.tables)
    assert rows[0]["features"]["revenue"] == pytest.approx(last[1]["revenue"])
    assert rows[1]["features"]["region"] == last[2]["region"]
    assert rows[2]["prediction"] is None
    every = api.post(
        "/predictions/online",
        headers=WRITE,
        json={"model": "stores_api", "entity_ids": list(range(1, 41)), "include_features": False},
    ).json()["predictions"]
    expected = _final_expected(stores_run.tables)
    errors = [abs(r["prediction"] - expected[r["entity_id"]]) for r in every]
    assert sum(errors) / len(errors) < 2.5 * stores_run.out["train"]["oracle"]["oracle_mae"]
