"""``consistency``: online equals offline as of the last materialization, or why not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from quality_world import LATE_PATIENTS, QualityWorld

from potluck.quality.consistency import _cause, consistency, same_value

pytestmark = pytest.mark.xdist_group("quality")

OTHERS = ["P00000100", "P00000200", "P00000300"]


def test_same_value_treats_nulls_and_floats_sensibly() -> None:
    assert same_value(None, float("nan"))
    assert same_value(1, 1.0)
    assert same_value(0.1 + 0.2, 0.3)
    assert not same_value(None, 0)
    assert not same_value("smokes", "never smoked")


def test_cause_distinguishes_late_rows_from_unmaterialized_ones() -> None:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    intervals = [(t - timedelta(days=10), t)]
    assert _cause("x", t - timedelta(days=1), intervals)[0] == "late_arriving_rows"
    assert _cause("x", t - timedelta(days=30), intervals)[0] == "stale_materialization"
    assert _cause(None, None, intervals)[0] == "stale_materialization"


def test_clean_deployment_is_consistent(world: QualityWorld) -> None:
    report = consistency(world.repo(), sample=40)
    assert report.passed, [f.to_dict() for f in report.failures]
    features = [f for f in report.findings if f.check == "feature"]
    assert len(features) >= 25  # every non-PII field of the six views
    assert all(f.metrics["compared"] == 40 for f in features)
    assert report.summary["mismatches"] == 0


def test_late_arriving_rows_are_mismatches_with_their_cause(world: QualityWorld) -> None:
    report = consistency(world.repo("late"), entity_ids=LATE_PATIENTS + OTHERS)
    assert not report.passed
    failed = {f.subject: f for f in report.failures}
    stress = failed["lifestyle_factors:stress_level"]
    # every planted patient (all have a late row), none of the others
    assert stress.metrics["mismatches"] == len(LATE_PATIENTS)
    assert stress.metrics["causes"] == {"late_arriving_rows": len(LATE_PATIENTS)}
    assert "offline 99" in stress.detail
    assert all(subject.startswith("lifestyle_factors:") for subject in failed)
