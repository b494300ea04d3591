"""``offline_store.engine: spark`` through Feast: the healthcare training set equals DuckDB's."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pytest
from feast import FeatureStore
from feast.repo_config import RepoConfig

from potluck.features.repo import FeatureRepo
from potluck.profiles import repo_config_dict
from potluck.settings import Settings
from potluck.workflows.data import engineer, read_source_table, seed

pytestmark = [pytest.mark.xdist_group("spark"), pytest.mark.integration]

AS_OF = datetime(2026, 6, 1, tzinfo=UTC)


def test_federated_store_on_spark_equals_duckdb(spark: Any, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", profile="embedded")
    seed(settings, size=300, seed=5, as_of=AS_OF)
    engineer(settings)
    repo = FeatureRepo(settings)
    repo.apply()
    outcomes = read_source_table(settings, "stroke_outcomes")
    entity_df = outcomes.select(["patient_id", "event_timestamp"]).to_pandas()

    duckdb_store = repo.store
    config = repo_config_dict(settings)
    config["offline_store"]["engine"] = "spark"
    spark_store = FeatureStore(config=RepoConfig(repo_path=settings.repo_dir, **config))
    assert spark_store.config.offline_store.engine == "spark"

    service = duckdb_store.get_feature_service("stroke_risk_full")
    expected = duckdb_store.get_historical_features(
        entity_df=entity_df, features=service
    ).to_arrow()
    actual = spark_store.get_historical_features(entity_df=entity_df, features=service).to_arrow()

    assert actual.num_rows == len(entity_df)
    assert actual.schema == expected.schema
    assert actual.equals(expected)
    assert pc.count(actual["risk_score"]).as_py() > 0  # engineered views joined, not all null
    assert pc.count(actual["avg_glucose_level"]).as_py() > 0
