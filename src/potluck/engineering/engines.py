"""Which engine computes the engineered features, and running it.

Two engines share one set of feature definitions
(:func:`potluck.engineering.pipeline.features` over the deployment's functions): pandas/DuckDB on one machine
(:mod:`.pipeline`) and Spark (:mod:`.spark_engine`), parity-tested value for value.
``settings.engineering_engine`` picks one; ``"auto"`` picks Spark on the services
profile -- there the engineered views are a Spark job's output -- and pandas/DuckDB
on the embedded profile, so the demo never starts a JVM.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal, get_args

import pyarrow as pa

from potluck.errors import ConfigurationError, DriverMissingError, PotluckError, SourceError

if TYPE_CHECKING:
    from potluck.deployment import EngineeringSpec

__all__ = ["ENGINES", "Engine", "compute_with", "resolve_engine"]

Engine = Literal["pandas", "spark"]
ENGINES: tuple[Engine, ...] = get_args(Engine)

# How Spark failures are named (a SourceError names a source and a connector).
SPARK_SOURCE = "engineered features"


def resolve_engine(choice: str, profile: str) -> Engine:
    """The engine ``choice`` (``auto`` | ``pandas`` | ``spark``) means on ``profile``."""
    if choice == "auto":
        return "spark" if profile == "services" else "pandas"
    for engine in ENGINES:
        if choice == engine:
            return engine
    allowed = ", ".join(("auto", *ENGINES))
    raise ConfigurationError(f"engineering engine must be one of {allowed}; got {choice!r}")


def compute_with(
    engine: Engine,
    spec: EngineeringSpec,
    keys: Mapping[str, pa.DataType],
    tables: Mapping[str, pa.Table],
    snapshots: pa.Table,
) -> dict[str, pa.Table]:
    """The engineered tables computed by ``engine`` (same contract for both engines)."""
    if engine == "pandas":
        from potluck.engineering.pipeline import compute

        return compute(spec, keys, tables, snapshots)
    return _spark_compute(spec, keys, tables, snapshots)


def _spark_compute(
    spec: EngineeringSpec,
    keys: Mapping[str, pa.DataType],
    tables: Mapping[str, pa.Table],
    snapshots: pa.Table,
) -> dict[str, pa.Table]:
    from potluck.connectors.spark.session import import_pyspark, spark_errors

    try:
        import_pyspark()
    except DriverMissingError as exc:
        # Say how to do without Spark, too: "auto" picks it on the services profile.
        raise DriverMissingError(
            exc.package,
            exc.install,
            "the Spark engineering engine (POTLUCK_ENGINEERING_ENGINE=spark, or auto on the "
            "services profile; set it to pandas to run without Spark)",
        ) from None
    from potluck.engineering import spark_engine

    failures: tuple[type[Exception], ...] = (*spark_errors(), pa.ArrowException)
    try:
        # The process-wide session: POTLUCK_SPARK__MASTER etc. (SparkSessionConfig).
        return spark_engine.compute(spec, keys, tables, snapshots)
    except PotluckError:
        raise
    except failures as exc:
        raise SourceError(SPARK_SOURCE, "spark", f"{type(exc).__name__}: {exc}") from exc
