"""``profile``: per-feature statistics, and a stale view fails."""

from __future__ import annotations

import pyarrow as pa
import pytest
from quality_world import QualityWorld

from potluck.quality.profile import column_profile, profile

pytestmark = pytest.mark.xdist_group("quality")


def test_column_profile_counts_outliers_and_nulls() -> None:
    values = pa.chunked_array([[float(i) for i in range(1, 101)] + [1000.0, None]])
    stats = column_profile(values)
    assert stats["rows"] == 102 and stats["null_rate"] == round(1 / 102, 4)
    assert stats["min"] == 1.0 and stats["max"] == 1000.0
    assert stats["outliers_iqr"] == 1 and stats["outliers_z"] == 1
    text = column_profile(pa.chunked_array([["a", "a", "b", None]]))
    assert text["distinct"] == 2 and text["top"] == "a" and text["top_share"] == round(2 / 3, 4)


def test_clean_views_profile_without_failures(world: QualityWorld) -> None:
    report = profile(world.repo(), views=["clinical_statistics", "lifestyle_factors"])
    assert report.passed, [f.to_dict() for f in report.failures]
    features = {f.subject: f.metrics for f in report.findings if f.check == "feature"}
    bmi = features["clinical_statistics:bmi"]
    assert 0 < bmi["null_rate"] < 0.2 and 10 < bmi["min"] < bmi["mean"] < bmi["max"] < 80
    assert features["lifestyle_factors:smoking_status"]["distinct"] == 3
    assert len(report.figures) == len(features)  # one histogram or bar chart each
    stale = [f for f in report.findings if f.check == "staleness"]
    assert all(f.metrics["age_days"] < f.metrics["ttl_days"] for f in stale)


def test_stale_view_fails(world: QualityWorld) -> None:
    report = profile(world.repo("stale_source"), views=["lifestyle_factors"], plots=False)
    failed = {(f.check, f.subject) for f in report.failures}
    assert ("staleness", "lifestyle_factors") in failed
    assert ("feature", "lifestyle_factors:smoking_status") in failed
    assert report.summary["stale_views"] == ["lifestyle_factors"]
