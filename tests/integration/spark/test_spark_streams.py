"""The stream kernels on Spark Structured Streaming, on a real standalone cluster.

The same events go to two Redis databases: one is processed by the in-process
processor, the other by a Spark job (the Python streaming data source reading the
Redis stream, ``foreachBatch`` folding each micro-batch on the executors). Online
values are equal, and equal to a batch recomputation; re-running the batch (a fresh
checkpoint replays batch 0) applies nothing twice.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.unit.streams.helpers import (
    CARDS,
    assert_online_equals_batch,
    clicks_repo,
    events,
    now,
    offline_rows,
)

from potluck.devservices import Server
from potluck.online.materialize import materialize
from potluck.online.reads import online_features
from potluck.streams import encode_event, open_log
from potluck.streams.processor import Processor, StreamOptions

# Same xdist group as the cluster parity test: one worker, one cluster per session.
pytestmark = [pytest.mark.xdist_group("spark_cluster"), pytest.mark.integration]

JOB = """
import sys
from pyspark.sql import SparkSession
from potluck.features.repo import FeatureRepo
from potluck.settings import Settings
from potluck.streams.spark import stream_on_spark

master, checkpoint = sys.argv[1], sys.argv[2]
spark = (
    SparkSession.builder.master(master).appName("potluck-stream-test")
    .config("spark.driver.host", "127.0.0.1").config("spark.executor.memory", "512m")
    .config("spark.cores.max", "2").config("spark.sql.shuffle.partitions", "2")
    .config("spark.executorEnv.PYTHONPATH", sys.argv[3])
    .getOrCreate()
)
print("APPENDED", stream_on_spark(FeatureRepo(Settings()), ["txns"], spark, checkpoint))
spark.stop()
"""


def _spark_job(cluster: Any, repo: Any, port: int, checkpoint: Path) -> str:
    env = {
        **cluster.env,
        "POTLUCK_HOME": str(repo.settings.home),
        "POTLUCK_DEPLOYMENT": repo.settings.deployment,
        "POTLUCK_ONLINE_STORE": "redis",
        "POTLUCK_REDIS__PORT": str(port),
        "POTLUCK_REDIS__DB": str(repo.settings.redis.db),
    }
    done = subprocess.run(
        [sys.executable, "-c", JOB, cluster.master_url, str(checkpoint), env["PYTHONPATH"]],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return done.stdout


def test_spark_on_a_standalone_cluster_equals_the_in_process_processor(
    tmp_path: Path, redis_server: Server, spark_cluster: Any
) -> None:
    port = redis_server.port
    ours = clicks_repo(tmp_path / "ours", (port, 4))
    spark = clicks_repo(tmp_path / "spark", (port, 5))
    for repo in (ours, spark):
        materialize(repo, end=now() - timedelta(hours=1))
    before = offline_rows(spark).num_rows
    sent = events(600, seed=12)
    for repo in (ours, spark):
        log = open_log(repo)
        if repo is spark:  # a third as batched entries of 100 events: one row per event
            payloads = [encode_event(e) for e in sent[:200]]
            log.append_batched("txns", [(payloads[i : i + 100], [None] * 100) for i in (0, 100)])
            log.append("txns", [(encode_event(e), None) for e in sent[200:]])
        else:
            log.append("txns", [(encode_event(e), None) for e in sent])
        log.close()
    Processor(ours, ["txns"], StreamOptions(batch=200, block_ms=10)).run(idle_exit_s=0.3)
    out = _spark_job(spark_cluster, spark, port, tmp_path / "ckpt")
    assert "APPENDED {'txns': 600}" in out, out
    at = now()
    cards = [f"card_{i:05d}" for i in range(CARDS)]
    a = online_features(ours, "card_v1", cards, now=at)
    b = online_features(spark, "card_v1", cards, now=at)
    strip = [{k: v for k, v in row.items() if not k.startswith("_")} for row in a]
    assert strip == [{k: v for k, v in row.items() if not k.startswith("_")} for row in b]
    assert_online_equals_batch(spark, at)
    assert offline_rows(spark).num_rows == before + 600
    # a fresh checkpoint replays batch 0 over the same entries: its partitions are
    # marked applied, nothing is counted twice
    out = _spark_job(spark_cluster, spark, port, tmp_path / "ckpt2")
    assert "APPENDED {'txns': 0}" in out, out
    assert_online_equals_batch(spark, now())
    assert offline_rows(spark).num_rows == before + 600
