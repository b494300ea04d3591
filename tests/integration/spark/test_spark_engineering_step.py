"""`engineer` with the Spark engine selected writes what the pandas engine writes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from potluck.domains.healthcare.deployment import DEPLOYMENT
from potluck.domains.healthcare.schema import ENGINEERED_SCHEMAS
from potluck.settings import Settings
from potluck.workflows.data import engineer_features, read_source_table, seed

ENGINEERED_SOURCES = DEPLOYMENT.engineered_sources

pytestmark = [pytest.mark.xdist_group("spark"), pytest.mark.integration]

AS_OF = datetime(2026, 6, 1, tzinfo=UTC)


def _written(settings: Settings) -> dict[str, pa.Table]:
    """The engineered tables as a reader sees them: read back through their connectors."""
    return {name: read_source_table(settings, name) for name in ENGINEERED_SOURCES}


def test_engineer_on_spark_writes_the_pandas_engines_tables(spark: Any, tmp_path: Path) -> None:
    pandas_settings = Settings(
        home=tmp_path / "home", profile="embedded", engineering_engine="pandas"
    )
    seed(pandas_settings, size=300, seed=5, as_of=AS_OF)
    jobs = spark.sparkContext.statusTracker()
    before = len(jobs.getJobIdsForGroup())
    pandas_run = engineer_features(pandas_settings)
    expected = _written(pandas_settings)
    assert len(jobs.getJobIdsForGroup()) == before  # pandas ran no Spark job

    # the same home, so the same seeded sources; only the engine differs
    spark_settings = pandas_settings.model_copy(update={"engineering_engine": "spark"})
    spark_run = engineer_features(spark_settings)
    actual = _written(spark_settings)
    assert len(jobs.getJobIdsForGroup()) > before  # and Spark did run this time

    assert (pandas_run.engine, spark_run.engine) == ("pandas", "spark")
    assert spark_run.rows == pandas_run.rows
    for view in ENGINEERED_SOURCES:
        assert actual[view].num_rows == expected[view].num_rows > 300
        assert actual[view].schema.names == ENGINEERED_SCHEMAS[view].names
        assert actual[view].equals(expected[view]), view
    risk = actual["computed_risk_metrics"]
    assert pc.count(risk["risk_score"]).as_py() > 0  # values, not a table of nulls
    assert pc.count(risk["days_since_stroke"]).as_py() > 0
    assert pc.sum(actual["hospitalization_metrics"]["was_hospitalized"]).as_py() > 0
