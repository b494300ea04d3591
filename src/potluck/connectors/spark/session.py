"""The one SparkSession of a process, built lazily from :class:`SparkSessionConfig`.

A JVM holds one active session, so every Spark user in potluck (the connector,
the engineering engine, the point-in-time join) shares it: the first caller's
options build it, later callers get the same session. Local masters bind to
loopback (``SPARK_LOCAL_IP=127.0.0.1``, which also halves start-up here) and run
Python workers with this interpreter, so pandas UDFs see the same packages.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import TYPE_CHECKING, Any

from potluck.connectors.spark.config import SparkSessionConfig
from potluck.errors import DriverMissingError, PotluckError, SourceError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["import_pyspark", "spark_errors", "spark_session"]

_lock = threading.Lock()
_session: SparkSession | None = None


def import_pyspark() -> Any:
    """The pyspark module, or a DriverMissingError with the install hint."""
    try:
        import pyspark
    except ImportError as exc:
        raise DriverMissingError(
            "pyspark", "pip install 'potluck[spark]'", "the Spark connector and engines"
        ) from exc
    return pyspark


def spark_errors() -> tuple[type[Exception], ...]:
    """The exceptions Spark and its JVM bridge raise (translated at every boundary)."""
    import_pyspark()
    import py4j.protocol
    from pyspark.errors import PySparkException

    return (PySparkException, py4j.protocol.Py4JError)


def _settings(config: SparkSessionConfig) -> dict[str, str]:
    local = config.master.startswith("local")
    settings = {
        # Every timestamp potluck hands Spark is UTC; so is every one it reads back.
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": str(config.shuffle_partitions),
        "spark.ui.enabled": str(config.ui).lower(),
        "spark.ui.showConsoleProgress": "false",
        # INT96 timestamps (Spark's default) are unreadable or misread by DuckDB/pyarrow users.
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        # Plans list every pushed filter instead of cutting them at 100 characters.
        "spark.sql.maxMetadataStringLength": "10000",
    }
    if local:
        settings |= {"spark.driver.bindAddress": "127.0.0.1", "spark.driver.host": "127.0.0.1"}
        settings["spark.pyspark.python"] = sys.executable
    return settings | dict(config.conf)


def spark_session(
    config: SparkSessionConfig | None = None, *, source: str = "spark"
) -> SparkSession:
    """The active SparkSession, started with ``config`` if there is none yet."""
    pyspark = import_pyspark()
    from pyspark.sql import SparkSession

    global _session
    with _lock:
        if _session is not None and _session.sparkContext._jsc is not None:  # not stopped
            return _session
        config = config or SparkSessionConfig()
        if config.master.startswith("local"):
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = SparkSession.builder.master(config.master).appName(config.app_name)
        for key, value in _settings(config).items():
            builder = builder.config(key, value)
        failures: tuple[type[Exception], ...] = (*spark_errors(), OSError, RuntimeError)
        try:
            session: SparkSession = builder.getOrCreate()
            session.sparkContext.setLogLevel("ERROR")
            _session = session
        except PotluckError:
            raise
        except failures as exc:
            detail = f"cannot start Spark ({config.master}, pyspark {pyspark.__version__}): {exc}"
            raise SourceError(source, "spark", detail) from exc
        return session
