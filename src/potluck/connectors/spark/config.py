"""Options of the Spark connector and of the shared SparkSession.

Validated by pydantic so a typo in a profile fails at start-up with a
:class:`~potluck.errors.ConfigurationError` instead of at the first read.
Session options can also come from the environment (``POTLUCK_SPARK__MASTER``,
``POTLUCK_SPARK__APP_NAME``, ...); explicit options win.
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["SparkConfig", "SparkSessionConfig"]


class SparkSessionConfig(BaseSettings):
    """How the process-wide SparkSession is built (the first caller's options win)."""

    model_config = SettingsConfigDict(env_prefix="POTLUCK_SPARK__", extra="forbid", frozen=True)

    master: str = Field(
        default="local[*]",
        description="'local[*]' on one machine, 'spark://host:7077' on a cluster.",
    )
    app_name: str = "potluck"
    shuffle_partitions: int = Field(
        default=4, ge=1, description="Spark's default of 200 is far too many for local data."
    )
    ui: bool = Field(default=False, description="Start Spark's web UI (a port per session).")
    conf: dict[str, str] = Field(
        default_factory=dict, description="Extra Spark settings, e.g. spark.driver.memory."
    )


class SparkConfig(SparkSessionConfig):
    """Where the tables live: Parquet directories under ``root``, or a catalog ``database``."""

    model_config = SettingsConfigDict(env_prefix="POTLUCK_SPARK__", extra="forbid", frozen=True)

    root: str | None = Field(
        default=None,
        description="Directory or URI (file:, s3a:, hdfs:) holding one Parquet directory per table.",
    )
    database: str | None = Field(
        default=None, description="Catalog database holding the tables (spark.table)."
    )

    @model_validator(mode="after")
    def _one_location(self) -> Self:
        if (self.root is None) == (self.database is None):
            raise ValueError("give exactly one of 'root' (Parquet paths) or 'database' (tables)")
        return self
