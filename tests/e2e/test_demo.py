"""The flagship deployment end to end, through the real CLI, on embedded defaults."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from tests.e2e.conftest import DEMO_PATIENTS, DemoRun

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("demo")]


def test_summary_has_the_documented_keys(demo_run: DemoRun) -> None:
    summary = demo_run.summary
    for key in (
        "deployment",
        "profile",
        "entities",
        "sources",
        "training_set",
        "model",
        "materialized_rows",
        "online_sample",
        "timings_s",
    ):
        assert key in summary, key
    assert summary["profile"] == "embedded"
    assert summary["entities"] == DEMO_PATIENTS
    assert (summary["deployment"], summary["entity_noun"]) == ("healthcare", "patients")
    assert set(summary["model"]) >= {"name", "version", "auc", "oracle_auc"}
    assert set(summary["training_set"]) == {"rows", "columns"}
    assert set(summary["timings_s"]) >= {
        "seed",
        "apply",
        "engineer",
        "training_set",
        "train",
        "materialize",
        "online",
        "total",
    }


def test_every_source_was_written(demo_run: DemoRun) -> None:
    sources = demo_run.summary["sources"]
    assert sources["patient_demographics"] == DEMO_PATIENTS
    for name in (
        "clinical_measurements",
        "hospital_administration",
        "lifestyle_data",
        "stroke_outcomes",
        "computed_risk_metrics",
        "hospitalization_metrics",
    ):
        assert sources[name] > 0, name
    # one engineered snapshot per assessment plus one at the anchor date, per patient
    assert sources["computed_risk_metrics"] == sources["stroke_outcomes"] + DEMO_PATIENTS


def test_training_set_keeps_every_label_row_and_joins_all_sources(demo_run: DemoRun) -> None:
    summary = demo_run.summary
    table = pq.read_table(demo_run.home / "data" / "training_set.parquet")
    assert (
        table.num_rows == summary["sources"]["stroke_outcomes"] == summary["training_set"]["rows"]
    )
    columns = set(table.column_names)
    # one column from each system: sqlite, jsonl documents, parquet lake, engineered parquet, on-demand
    assert {
        "avg_glucose_level",
        "gender",
        "smoking_status",
        "hypertension",
        "risk_score",
        "was_hospitalized",
        "age",
    } <= columns
    assert "stroke_probability" not in columns and "first_name" not in columns
    for name in ("gender", "avg_glucose_level", "hypertension", "age"):
        nulls = table[name].null_count / table.num_rows
        assert nulls < 0.2, f"{name} is {nulls:.0%} null: the cross-source join lost values"


def test_model_is_close_to_the_oracle(demo_run: DemoRun) -> None:
    model = demo_run.summary["model"]
    assert model["version"] >= 1
    assert 0.5 < model["oracle_auc"] <= 1.0
    assert model["auc"] >= 0.9 * model["oracle_auc"], model


def test_online_predictions_for_known_patients(demo_run: DemoRun) -> None:
    summary = demo_run.summary
    assert summary["materialized_rows"] >= DEMO_PATIENTS
    sample = summary["online_sample"]
    assert len(sample) == 5 and len({row["entity"] for row in sample}) == 5
    assert all(row["entity"].startswith("P") for row in sample)
    for row in sample:
        assert 0.0 < row["prediction"] < 1.0
        assert row["status"] in ("ok", "partial")


def test_demo_prints_a_summary_table(demo_run: DemoRun) -> None:
    assert "potluck demo - healthcare - profile embedded" in demo_run.stdout
    assert "test roc_auc" in demo_run.stdout and "/ oracle" in demo_run.stdout


def test_predict_reports_unknown_patients_per_row(demo_run: DemoRun) -> None:
    proc = demo_run.cli(
        "predict", "P00000001", "P99999999", "--json-out", str(demo_run.home / "p.json")
    )
    assert proc.returncode == 0, proc.stderr
    import json

    rows = json.loads((demo_run.home / "p.json").read_text())
    assert rows[0]["status"] in ("ok", "partial") and rows[0]["prediction"] is not None
    assert rows[0]["patient_id"] == "P00000001"
    assert rows[1] == {**rows[1], "status": "unknown_entity", "prediction": None}


def test_unknown_feature_service_is_a_clean_error(demo_run: DemoRun) -> None:
    proc = demo_run.cli("training-set", "--service", "no_such_service")
    assert proc.returncode == 1
    assert "unknown feature reference(s): no_such_service" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_online_reads_match_the_anchor_snapshot(demo_run: DemoRun) -> None:
    """Online values equal the offline point-in-time values as of the read time."""
    import json

    import pandas as pd

    from potluck.features.repo import FeatureRepo
    from potluck.features.retrieval import historical_features
    from potluck.settings import Settings

    out = demo_run.home / "online.json"
    ids = ["P00000001", "P00000002", "P00000003"]
    proc = demo_run.cli("online", *ids, "--json-out", str(out))
    assert proc.returncode == 0, proc.stderr
    online = {row["patient_id"]: row for row in json.loads(out.read_text())}

    repo = FeatureRepo(Settings(home=demo_run.home))
    entity = pd.DataFrame({"patient_id": ids, "event_timestamp": pd.Timestamp.now(tz="UTC")})
    offline = historical_features(repo, entity, "stroke_risk_v1").to_pylist()
    for row in offline:
        got = online[row["patient_id"]]
        for name in (
            "avg_glucose_level",
            "bmi",
            "smoking_status",
            "hypertension",
            "risk_score",
            "gender",
            "condition_count",
            "was_hospitalized",
            "blood_pressure_systolic",
        ):
            assert got[name] == row[name], (row["patient_id"], name, got[name], row[name])
