"""A real Spark standalone cluster for tests: a master and workers, each its own JVM
started with ``spark-class`` (not ``local[*]``), bound to loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from potluck.devservices import free_port, wait_for_port

__all__ = ["SparkCluster", "start_cluster", "stop_cluster"]


@dataclass
class SparkCluster:
    master_url: str
    ui_port: int
    root: Path
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return cluster_env()


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def cluster_env() -> dict[str, str]:
    """What the JVMs and the Python workers of the executors need (potluck importable)."""
    src = Path(__file__).parents[3] / "src"
    paths = [
        str(src),
        str(Path(__file__).parents[3]),
        *os.environ.get("PYTHONPATH", "").split(os.pathsep),
    ]
    return {
        **os.environ,
        "SPARK_HOME": str(spark_home()),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        "PYTHONPATH": os.pathsep.join(p for p in paths if p),
    }


def _alive_workers(ui_port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=2) as answer:
            return int(json.loads(answer.read()).get("aliveworkers", 0))
    except OSError:
        return 0


def start_cluster(root: Path, workers: int = 2, cores: int = 1, memory: str = "1g") -> SparkCluster:
    root.mkdir(parents=True, exist_ok=True)
    spark_class = str(spark_home() / "bin" / "spark-class")
    port, ui = free_port(), free_port()
    env = cluster_env()
    master_log = (root / "master.log").open("ab")
    cluster = SparkCluster(f"spark://127.0.0.1:{port}", ui, root)
    cluster.processes.append(
        subprocess.Popen(
            [
                spark_class,
                "org.apache.spark.deploy.master.Master",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--webui-port",
                str(ui),
            ],
            env=env,
            stdout=master_log,
            stderr=master_log,
            start_new_session=True,
        )
    )
    try:
        wait_for_port(port, timeout=60, name="Spark master")
        for i in range(workers):
            log = (root / f"worker{i}.log").open("ab")
            cluster.processes.append(
                subprocess.Popen(
                    [
                        spark_class,
                        "org.apache.spark.deploy.worker.Worker",
                        cluster.master_url,
                        "--host",
                        "127.0.0.1",
                        "--cores",
                        str(cores),
                        "--memory",
                        memory,
                        "--webui-port",
                        str(free_port()),
                        "--work-dir",
                        str(root / f"work{i}"),
                    ],
                    env=env,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                )
            )
        deadline = time.monotonic() + 90
        while _alive_workers(ui) < workers:
            if time.monotonic() > deadline:
                raise RuntimeError(f"Spark workers did not register; see {root}/*.log")
            time.sleep(0.5)
    except BaseException:
        stop_cluster(cluster)
        raise
    return cluster


def stop_cluster(cluster: SparkCluster) -> None:
    for proc in reversed(cluster.processes):
        proc.terminate()
    for proc in cluster.processes:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
