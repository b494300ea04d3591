"""``freshness``: targets declared as view tags; a stale online store misses them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from quality_world import QualityWorld

from potluck.errors import ConfigurationError
from potluck.quality._data import parse_duration
from potluck.quality.freshness import freshness

pytestmark = pytest.mark.xdist_group("quality")


def test_parse_duration() -> None:
    assert parse_duration("400d") == timedelta(days=400)
    assert parse_duration("1d12h") == timedelta(hours=36)
    assert parse_duration(" 2w ") == timedelta(weeks=2)
    for bad in ("", "12", "3 days", "d"):
        with pytest.raises(ConfigurationError):
            parse_duration(bad)


def test_fresh_deployment_meets_every_target(world: QualityWorld) -> None:
    report = freshness(world.repo())
    assert report.passed, [f.to_dict() for f in report.failures]
    assert {f.status for f in report.findings} == {"pass"}  # every view declares a target
    clinical = next(f for f in report.findings if f.subject == "clinical_statistics")
    assert clinical.metrics["target"] == "400d"
    assert clinical.metrics["online_age_days"] < 2


def test_stale_online_store_misses_its_targets(world: QualityWorld) -> None:
    report = freshness(world.repo("stale"))
    missed = set(report.summary["missed"])
    assert {"clinical_statistics", "computed_risk_metrics", "hospitalization_metrics"} <= missed
    clinical = next(f for f in report.findings if f.subject == "clinical_statistics")
    assert clinical.metrics["online_age_days"] > 400
    assert "source has rows after the last materialization" in clinical.detail
