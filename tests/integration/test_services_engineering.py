"""On the services profile `engineer` is a Spark job by default, its output Parquet in S3."""

from __future__ import annotations

from pathlib import Path

import pytest

from potluck.devservices import Server
from potluck.domains.healthcare.deployment import DEPLOYMENT
from potluck.domains.healthcare.deployment import engineer as compute
from potluck.domains.healthcare.deployment import snapshots as snapshot_times
from potluck.profiles import source_bindings
from potluck.settings import SourceOverride
from potluck.workflows import data
from tests.integration.services_harness import AS_OF, SEED, services_settings

LOGICAL_SOURCES = DEPLOYMENT.loaded_sources
ENGINEERED_SOURCES = DEPLOYMENT.engineered_sources

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("services")]


def test_engineer_on_services_runs_spark_and_writes_the_pandas_values_to_s3(
    tmp_path: Path, postgres_server: Server, s3_server: Server
) -> None:
    settings = services_settings(
        tmp_path / "home",
        postgres_server,
        s3_server,
        sources={
            "patient_demographics": SourceOverride(kind="jsonl"),
            "hospital_administration": SourceOverride(kind="sqlite"),
        },
    )
    assert settings.engineering_engine == "auto"
    data.seed(settings, size=150, seed=SEED, as_of=AS_OF)

    run = data.engineer_features(settings)

    assert run.engine == "spark"
    sources = {name: data.read_source_table(settings, name) for name in LOGICAL_SOURCES}
    expected = compute(sources, snapshot_times(sources["stroke_outcomes"], AS_OF))
    bindings = source_bindings(settings)
    for view in ENGINEERED_SOURCES:
        assert bindings[view]["kind"] == "s3"
        written = data.read_source_table(settings, view)  # read back from the bucket
        assert run.rows[view] == written.num_rows == expected[view].num_rows > 150
        assert written.equals(expected[view]), view
