"""``potluck validate`` warns when a feature is mostly null (a TTL shorter than the data's
age, or a source with nothing for the keys), on the test-only stores deployment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from potluck.features.repo import FeatureRepo
from potluck.ingest import load
from potluck.quality.validate import validate
from potluck.settings import Settings

STORES = str(Path(__file__).resolve().parents[2] / "deployments" / "stores")
T0 = datetime(2024, 3, 1, tzinfo=UTC)


def test_validate_warns_on_mostly_null_features(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", profile="embedded", deployment=STORES)
    sales = tmp_path / "sales.csv"
    sales.write_text(
        "store_id,day,revenue,visitors,region,manager_email\n"
        + "".join(f"{i},2024-03-01,10.5,3,north,m{i}@x\n" for i in range(1, 6))
    )
    load(settings, "sales", sales)
    targets = tmp_path / "targets.csv"
    targets.write_text(
        "store_id,week_start,next_week_revenue,expected_revenue\n"
        + "".join(f"{i},2024-03-01T01:00:00,70,70\n" for i in range(1, 6))
    )
    load(settings, "targets", targets)
    repo = FeatureRepo(settings)
    repo.apply()
    from potluck.workflows import data

    data.engineer(settings)

    fresh = validate(repo, at=T0 + timedelta(days=1))
    assert not [f for f in fresh.warnings if f.check == "mostly_null" and "revenue" in f.subject]

    # 30 days later the 14-day TTL has passed: every sales feature is null
    stale = validate(repo, at=T0 + timedelta(days=30))
    retrieval = [f for f in stale.findings if f.check == "historical_retrieval"]
    assert [f.status for f in retrieval] == ["pass"]  # integer keys are sampled as integers
    warned = {f.subject: f.detail for f in stale.warnings if f.check == "mostly_null"}
    assert "forecast_v1.revenue" in warned
    assert "forecast_v1.region" in warned
    assert "null in 100% of rows" in warned["forecast_v1.revenue"]
    assert "TTL may be shorter" in warned["forecast_v1.revenue"]
    assert "forecast_v1.revenue_per_visitor" in warned
