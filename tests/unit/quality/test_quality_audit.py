"""``audit``: a clean training set passes; planted leaks are each found."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from quality_world import QualityWorld

from potluck.quality import Report
from potluck.quality._html import write_report
from potluck.quality.leakage import audit, label_columns, single_feature_auc

pytestmark = pytest.mark.xdist_group("quality")


@pytest.fixture(scope="module")
def clean(world: QualityWorld) -> Report:
    return audit(world.repo(), pq.read_table(world.training_set()))


@pytest.fixture(scope="module")
def leaky(world: QualityWorld) -> Report:
    return audit(world.repo("leaky"), pq.read_table(world.training_set("leaky")))


def test_label_columns_match_short_and_full_names() -> None:
    names = ["bmi", "stroke_occurred", "outcomes__stroke_date", "age"]
    assert label_columns(names, "stroke_occurred", {"stroke_date"}) == [
        "stroke_occurred",
        "outcomes__stroke_date",
    ]


def test_single_feature_auc_flags_a_label_copy_not_noise() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 2000)
    frame = pd.DataFrame(
        {
            "y": y,
            "copy": y * 1.0,
            "noise": rng.normal(size=2000),
            "flipped": 1 - y,
            "category": np.where(y == 1, "a", "b"),
        }
    )
    aucs = single_feature_auc(frame, ["copy", "noise", "flipped", "category"], "y")
    assert aucs["copy"] == 1.0 and aucs["flipped"] == 1.0 and aucs["category"] == 1.0
    assert aucs["noise"] is not None and aucs["noise"] < 0.6


def test_clean_training_set_passes_and_explains_its_nulls(clean: Report) -> None:
    assert clean.passed, [f.to_dict() for f in clean.failures]
    gaps = {f.subject: f.metrics for f in clean.findings if f.check == "ttl_gaps"}
    smoking = gaps["smoking_status"]
    causes = ("no_row_before_entity_time", "older_than_ttl", "null_in_source")
    rows = clean.summary["rows"]
    assert sum(smoking[c] for c in causes) == round(smoking["null_rate"] * rows)
    assert smoking["older_than_ttl"] > 0  # the 180-day TTL is why smoking_status is null
    aucs = {f.subject: f.metrics["auc"] for f in clean.findings if f.check == "single_feature_auc"}
    assert 0.5 < aucs["risk_score"] < 0.9


def test_planted_leaks_are_all_found(leaky: Report) -> None:
    failed = {(f.check, f.subject): f.detail for f in leaky.failures}
    assert "stroke_probability, recovery_status" in failed[("label_in_service", "leaky")]
    assert ("label_in_training_set", "columns") in failed
    assert ("single_feature_auc", "stroke_flag") in failed  # the label under another name
    assert "joined a row created" in failed[("created_after_entity_time", "late_labs")]
    assert "1 source rows dated after" in failed[("future_dated_events", "late_labs")]
    assert ("created_after_entity_time", "clinical_statistics") not in failed


def test_training_set_report_is_written_with_plots(leaky: Report, tmp_path: Path) -> None:
    path = write_report(leaky, tmp_path)
    html = path.read_text()
    assert html.count("data:image/png;base64,") == 2  # AUC bars, null causes
    assert "stroke_flag" in html and "FAIL" in html
