"""The spark connector: Parquet paths or catalog tables read and written through Spark.

``config`` holds the pydantic model of its profile options, ``session`` the one
SparkSession a process shares (also used by the Spark engineering engine and the
Spark point-in-time join), ``connector`` the
:class:`~potluck.connectors.base.Connector` itself. pyspark is imported only when
a session is first needed; without it the error says what to install.
"""

from __future__ import annotations

from potluck.connectors.spark.config import SparkConfig, SparkSessionConfig
from potluck.connectors.spark.connector import SparkConnector
from potluck.connectors.spark.session import spark_session

__all__ = ["SparkConfig", "SparkConnector", "SparkSessionConfig", "spark_session"]
