"""``validate``: passes on the seeded deployment, lists every failure of a broken one."""

from __future__ import annotations

import pyarrow as pa
import pytest
from quality_world import QualityWorld

from potluck.quality import Report
from potluck.quality.validate import schema_problems, validate

pytestmark = pytest.mark.xdist_group("quality")


@pytest.fixture(scope="module")
def clean(world: QualityWorld) -> Report:
    return validate(world.repo(), sample=15)


@pytest.fixture(scope="module")
def broken(world: QualityWorld) -> Report:
    return validate(world.repo("schema_broken"), sample=15)


def test_schema_problems_lists_missing_extra_and_wrong_types() -> None:
    declared = pa.schema([("a", pa.int64()), ("b", pa.string()), ("c", pa.float64())])
    actual = pa.schema([("a", pa.float64()), ("c", pa.float64()), ("d", pa.string())])
    assert schema_problems(declared, actual) == {
        "missing": ["b"],
        "extra": ["d"],
        "wrong_types": ["a: declared int64, found double"],
    }
    assert schema_problems(declared, declared) == {"missing": [], "extra": [], "wrong_types": []}


def test_clean_deployment_passes_every_step_with_timings(clean: Report) -> None:
    assert clean.passed, [f.to_dict() for f in clean.failures]
    checks = {(f.check, f.subject) for f in clean.findings}
    for source in ("clinical_measurements", "patient_demographics", "lifestyle_data"):
        assert ("source", source) in checks
    for service in ("stroke_risk_v1", "stroke_risk_full"):
        assert ("historical_retrieval", service) in checks
        assert ("online_read", service) in checks
    assert ("on_demand_view", "request_time_features") in checks
    assert all(f.metrics["seconds"] >= 0 for f in clean.findings)
    online = [f for f in clean.findings if f.check == "online_read"]
    assert all(f.metrics["found"] == 15 for f in online)


def test_broken_sources_fail_with_every_problem_listed(broken: Report) -> None:
    assert not broken.passed
    failed = {(f.check, f.subject): f.detail for f in broken.failures}
    clinical = failed[("source", "clinical_measurements")]
    assert "missing: bmi" in clinical
    assert "extra: device_id" in clinical
    assert "heart_rate: declared int64, found double" in clinical
    assert "lifestyle_data.parquet" in failed[("source", "lifestyle_data")]
    assert "field 'bmi' missing" in failed[("feature_view", "clinical_statistics")]
    assert ("historical_retrieval", "stroke_risk_v1") in failed
    # sources that are fine are still reported as passing: the run did not stop early
    passing = {f.subject for f in broken.findings if f.status == "pass" and f.check == "source"}
    assert {"stroke_outcomes", "patient_demographics"} <= passing


def test_views_over_other_tables_of_a_source_are_checked_against_their_own_table(
    world: QualityWorld,
) -> None:
    # the leaky copy adds views over tables 'outcome_copy' and 'late_labs' of the
    # stroke_outcomes source: each is checked against its own table, not the source's
    report = validate(world.repo("leaky"), sample=10)
    assert report.passed, [f.to_dict() for f in report.failures]
    subjects = {f.subject for f in report.findings if f.check == "feature_view"}
    assert {"outcome_copy", "late_labs"} <= subjects
