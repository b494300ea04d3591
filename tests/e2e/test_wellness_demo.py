"""The wellness deployment end to end through the real CLI, on embedded defaults, small N:
the next-day energy regressor's test MAE is within 1.2x of the oracle's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("wellness_demo")]

USERS = 150


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("wellness_demo")
    out = root / "demo.json"
    env = {
        **os.environ,
        "POTLUCK_HOME": str(root / "home"),
        "POTLUCK_PROFILE": "embedded",
        "COLUMNS": "120",
    }
    # materialized now, so the online sample is read inside every view's TTL (6 h the least)
    as_of = datetime.now(UTC).replace(microsecond=0).isoformat()
    args = ["demo", "--deployment", "wellness", "--size", str(USERS), "--seed", "5"]
    proc = subprocess.run(
        [sys.executable, "-m", "potluck.cli", *args, "--as-of", as_of, "--json-out", str(out)],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, f"demo failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return json.loads(Path(out).read_text())  # type: ignore[no-any-return]


def test_regression_error_is_within_1_2x_of_the_oracle(summary: dict[str, Any]) -> None:
    model = summary["model"]
    assert (model["name"], model["task"], model["metric"]) == (
        "wellness_energy",
        "regression",
        "mae",
    )
    assert model["oracle_value"] == model["oracle"]["oracle_mae"] > 0
    assert model["value"] <= 1.2 * model["oracle_value"], model


def test_every_source_and_view_ran(summary: dict[str, Any]) -> None:
    assert (summary["deployment"], summary["entity_noun"]) == ("wellness", "users")
    sources = summary["sources"]
    for name in (
        "activities",
        "sleep_sessions",
        "exercise_sessions",
        "social_events",
        "device_integrations",
    ):
        assert sources[name] > USERS, name
    assert sources["daily_energy"] == summary["training_set"]["rows"]
    assert summary["registered"]["feature_views"] == 5
    assert summary["registered"]["on_demand_feature_views"] == 8
    assert summary["registered"]["feature_services"] == 4
    assert set(summary["materialized"]) == {
        "user_activity_features",
        "sleep_features",
        "exercise_features",
        "social_features",
        "integration_features",
    }


def test_online_predictions_are_served_fresh(summary: dict[str, Any]) -> None:
    sample = summary["online_sample"]
    assert len(sample) == 5
    for row in sample:
        assert row["prediction"] is not None and 1.0 <= row["prediction"] <= 10.0, row
        assert row["status"] in ("ok", "partial"), row


def test_online_only_push_changes_the_dashboard_until_the_rebuild(summary: dict[str, Any]) -> None:
    push = summary["push"]
    assert (push["push_source"], push["service"]) == ("user_activity_push", "wellness_dashboard_v1")
    assert push["feature_views"] == ["user_activity_features"] and push["rows"] == 2
    before, after = push["changed"]["activity_count_24h"]
    assert after == before + 2
    assert "total_minutes_7d" in push["changed"]
    # the incremental materialization rebuilt the states from the untouched source
    assert push["incremental_rows"] > 0
    assert push["changed_after_incremental"] == {}
    assert {"push", "materialize_incremental"} <= set(summary["timings_s"])
