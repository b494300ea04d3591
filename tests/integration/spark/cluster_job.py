"""The Spark side of the standalone-cluster parity test, run as its own process.

``python -m tests.integration.spark.cluster_job OUT HOME``: the session comes from
``POTLUCK_SPARK__*`` (the test points the master at the cluster), so it is built by
potluck's own ``spark_session`` exactly as a deployment builds it. The test process may
already hold a ``local[2]`` session (one per JVM), hence a separate process. Every result
is written as an Arrow IPC file (an exact round trip, types included) for the test to
compare with the local engines' results:

- ``master.txt``: the master the session really ran on;
- ``window_<keys>.arrow``: ``window_columns_spark`` on the shared window data;
- ``join_<seed>.arrow``: ``spark_join.point_in_time_join`` on the shared join data;
- ``feast.arrow``: the healthcare training set through Feast with
  ``offline_store.engine: spark`` (the repo in HOME is seeded and applied by the test).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
from tests.integration.spark.parity_data import join_entity, join_views, window_data
from tests.unit.windows.window_data import FEATURES, rows_table, to_table

from potluck.connectors.spark import spark_session

WINDOW_KEYS = (["k"], ["k", "k2"])
JOIN_SEEDS = (1, 2)


def write(path: Path, table: pa.Table) -> None:
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as out:
        out.write_table(table)


def read(path: Path) -> pa.Table:
    with pa.memory_map(str(path)) as source:
        return pa.ipc.open_file(source).read_all()


def healthcare_entity(home: Path) -> pa.Table:
    """The entity frame of the Feast case: every outcome row, as the local test builds it."""
    from potluck.settings import Settings
    from potluck.workflows.data import read_source_table

    outcomes = read_source_table(Settings(home=home, profile="embedded"), "stroke_outcomes")
    return outcomes.select(["patient_id", "event_timestamp"])


def main(out: Path, home: Path) -> None:
    from feast import FeatureStore
    from feast.repo_config import RepoConfig

    from potluck.offline import spark_join
    from potluck.offline.spark_windows import window_columns_spark
    from potluck.profiles import repo_config_dict
    from potluck.settings import Settings

    spark = spark_session()
    (out / "master.txt").write_text(spark.sparkContext.master)
    events, rows = window_data(3)
    for keys in WINDOW_KEYS:
        table = window_columns_spark(
            to_table(events), keys, "ts", rows_table(rows), "event_timestamp", FEATURES, spark
        )
        write(out / f"window_{'_'.join(keys)}.arrow", table)
    for seed in JOIN_SEEDS:
        rng = np.random.default_rng(seed)
        views, entity = join_views(rng, 60), join_entity(rng, 80)
        joined = spark_join.point_in_time_join(entity, "event_timestamp", views, spark)
        write(out / f"join_{seed}.arrow", joined)
    settings = Settings(home=home, profile="embedded")
    config = repo_config_dict(settings)
    config["offline_store"]["engine"] = "spark"
    store = FeatureStore(config=RepoConfig(repo_path=settings.repo_dir, **config))
    entity_df = healthcare_entity(home).to_pandas()
    service = store.get_feature_service("stroke_risk_full")
    training = store.get_historical_features(entity_df=entity_df, features=service).to_arrow()
    write(out / "feast.arrow", training)
    spark.stop()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
