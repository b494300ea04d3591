"""Engineered features: a deployment's pure functions (wired by parameter name, :mod:`.dag`)
evaluated point-in-time by the pandas/DuckDB engine (:mod:`.pipeline`) or Spark
(:mod:`.spark_engine`)."""

from potluck.engineering.pipeline import compute, snapshot_times

__all__ = ["compute", "snapshot_times"]
