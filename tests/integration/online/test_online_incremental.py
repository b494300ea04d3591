"""Incremental runs, late-arriving rows and the scheduler loop."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from typer.testing import CliRunner

from potluck.cli import app
from potluck.features.repo import FeatureRepo
from potluck.online._wire import string_entity_keys
from potluck.online.materialize import materialize
from potluck.workflows import data
from tests.integration.online.helpers import END, clone, hours

pytestmark = pytest.mark.xdist_group("online")


def _stored(repo: FeatureRepo, patient: str) -> tuple[int, str]:
    """(event_ts, smoking_status text) of a patient's lifestyle row in the online store."""
    key = string_entity_keys("patient_id", [patient])[0]
    table = f"{repo.config.project}_lifestyle_factors"
    with sqlite3.connect(repo.config.online_store.path) as conn:
        row = conn.execute(
            f'SELECT event_ts, value_text FROM "{table}" '
            "WHERE entity_key = ? AND feature_name = 'smoking_status'",
            (key,),
        ).fetchone()
    return int(row[0]), str(row[1])


def test_lookback_picks_up_a_late_row(online_home: Path, tmp_path: Path) -> None:
    repo = clone(online_home, tmp_path / "home")
    materialize(repo, end=END)
    lifestyle = data.read_source_table(repo.settings, "lifestyle_data")
    latest = lifestyle.group_by("patient_id").aggregate([("event_timestamp", "max")])
    stale = latest.filter(pc.less(latest["event_timestamp_max"], END - hours(3)))
    patient = stale["patient_id"][0].as_py()
    before = _stored(repo, patient)
    # a survey taken an hour before the last run's end, which reached the source after it
    late_at = END - hours(1)
    row = lifestyle.filter(pc.equal(lifestyle["patient_id"], patient)).slice(0, 1)
    row = row.set_column(1, "event_timestamp", pa.array([late_at], row.schema.field(1).type))
    status = "never smoked" if before[1] == "smokes" else "smokes"
    row = row.set_column(2, "smoking_status", pa.array([status]))
    data.connector(repo.settings, "lifestyle_data").write("lifestyle_data", row, mode="append")

    plain = materialize(repo, end=END + timedelta(minutes=1), incremental=True)
    assert plain.start["lifestyle_factors"] == END  # the window starts where the last ended
    assert _stored(repo, patient) == before  # ... so the late row is missed

    late = materialize(repo, end=END + timedelta(minutes=2), lookback=hours(2))
    assert late.start["lifestyle_factors"] == END + timedelta(minutes=1) - hours(2)
    assert _stored(repo, patient) == (int(late_at.timestamp()), status)


def test_every_runs_incrementally_on_a_schedule(online_home: Path, tmp_path: Path) -> None:
    repo = clone(online_home, tmp_path / "home")
    materialize(repo, end=END)
    out = tmp_path / "run.json"
    result = CliRunner().invoke(
        app,
        ["materialize", "--every", "1s", "--runs", "2", "--lookback", "1h", "--json-out", str(out)],
        env={"POTLUCK_HOME": str(repo.settings.home), "POTLUCK_PROFILE": "embedded"},
    )
    assert result.exit_code == 0, result.output
    assert result.output.count("materialized rows") == 2
    last = json.loads(out.read_text())
    assert last["incremental"] is True
    assert set(last["rows"]) == {v.name for v in repo.store.list_feature_views()}
    # the second run continued from the first one's end, an hour back: not from 1970
    starts = [datetime.fromisoformat(s) for s in last["start"].values()]
    assert min(starts) >= END - hours(1)
