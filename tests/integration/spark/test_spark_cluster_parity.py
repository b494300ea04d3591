"""Spark on a real standalone cluster (a master and two workers, each its own JVM) equals
the local engines, value for value: the window join (``window_columns_spark`` against the
local kernel), the latest-value point-in-time join (``spark_join`` against the DuckDB
join) and the healthcare training set through Feast with ``offline_store.engine: spark``
against the default engine.

The Spark side runs in its own process (tests/integration/spark/cluster_job.py): this
process may hold a ``local[2]`` session already, and a JVM holds one. Its session is
potluck's own ``spark_session`` configured by ``POTLUCK_SPARK__*`` as a deployment would.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc
import pytest
from tests.integration.spark.cluster_job import (
    JOIN_SEEDS,
    WINDOW_KEYS,
    healthcare_entity,
    read,
)
from tests.integration.spark.parity_data import join_entity, join_views, window_data
from tests.unit.windows.window_data import FEATURES, rows_table, to_table
from tests.unit.windows.window_reference import values_match

from potluck.features.repo import FeatureRepo
from potluck.offline import pit_join
from potluck.settings import Settings
from potluck.windows.offline import compute
from potluck.workflows.data import engineer, seed

# One worker runs every test that uses the cluster, so it starts once per session.
pytestmark = [pytest.mark.xdist_group("spark_cluster"), pytest.mark.integration]

AS_OF = datetime(2026, 6, 1, tzinfo=UTC)


def _run_job(cluster: Any, out: Path, home: Path) -> None:
    pythonpath = cluster.env["PYTHONPATH"]
    conf = {
        "spark.executor.memory": "512m",
        "spark.cores.max": "2",  # both workers' cores: tasks run on both executors
        "spark.driver.memory": "1g",
        "spark.sql.adaptive.enabled": "false",
        "spark.sql.warehouse.dir": str(out / "warehouse"),
        "spark.executorEnv.PYTHONPATH": pythonpath,  # potluck in the executors' workers
    }
    env = {
        **cluster.env,
        "POTLUCK_SPARK__MASTER": cluster.master_url,
        "POTLUCK_SPARK__SHUFFLE_PARTITIONS": "4",
        "POTLUCK_SPARK__CONF": json.dumps(conf),
    }
    done = subprocess.run(
        [sys.executable, "-m", "tests.integration.spark.cluster_job", str(out), str(home)],
        env=env,
        cwd=Path(__file__).parents[3],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]


def test_spark_on_a_standalone_cluster_equals_local(spark_cluster: Any, tmp_path: Path) -> None:
    home = tmp_path / "home"
    settings = Settings(home=home, profile="embedded")
    seed(settings, size=300, seed=5, as_of=AS_OF)
    engineer(settings)
    repo = FeatureRepo(settings)
    repo.apply()
    out = tmp_path / "out"
    out.mkdir()
    _run_job(spark_cluster, out, home)
    assert (out / "master.txt").read_text() == spark_cluster.master_url

    events, rows = window_data(3)
    for keys in WINDOW_KEYS:
        local = compute(to_table(events), keys, "ts", rows_table(rows), FEATURES)
        remote = read(out / f"window_{'_'.join(keys)}.arrow")
        assert remote.num_rows == len(rows)
        for f in FEATURES:
            want, got = local[f.name].to_pylist(), remote[f.name].to_pylist()
            bad = [
                i for i, (w, g) in enumerate(zip(want, got, strict=True)) if not values_match(w, g)
            ]
            assert not bad, (f.name, keys, [(want[i], got[i]) for i in bad[:3]])

    for join_seed in JOIN_SEEDS:
        rng = np.random.default_rng(join_seed)
        views, entity = join_views(rng, 60), join_entity(rng, 80)
        expected = pit_join.point_in_time_join(entity, "event_timestamp", views)
        actual = read(out / f"join_{join_seed}.arrow")
        assert actual.schema == expected.schema
        assert actual.equals(expected), join_seed
        assert 0 < actual.column("v_int").null_count < actual.num_rows

    entity_df = healthcare_entity(home).to_pandas()
    service = repo.store.get_feature_service("stroke_risk_full")
    expected = repo.store.get_historical_features(entity_df=entity_df, features=service).to_arrow()
    actual = read(out / "feast.arrow")
    assert actual.num_rows == len(entity_df)
    assert actual.schema == expected.schema
    assert actual.equals(expected)
    assert pc.count(actual["risk_score"]).as_py() > 0  # engineered views joined, not all null
    assert pc.count(actual["avg_glucose_level"]).as_py() > 0
