"""Fill the source systems (synthetic seed) and compute the engineered features."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from potluck.connectors import Connector, ReadRequest
from potluck.deployment import Deployment, active_deployment
from potluck.errors import ConfigurationError, SourceError
from potluck.offline.bindings import SourceBinding, connector_for_name
from potluck.profiles import source_bindings
from potluck.settings import Settings
from potluck.workflows.state import SeedState, save_state, state_or_none

if TYPE_CHECKING:
    from potluck.engineering.engines import Engine

__all__ = [
    "EngineeringRun",
    "connector",
    "engineer",
    "engineer_features",
    "held_back_path",
    "read_source_table",
    "seed",
]


def connector(settings: Settings, source: str) -> Connector:
    bindings = source_bindings(settings)
    if source not in bindings:
        known = ", ".join(bindings)
        raise ConfigurationError(f"unknown source '{source}' (known: {known})")
    return connector_for_name(source, SourceBinding(**bindings[source]))


def read_source_table(settings: Settings, source: str) -> pa.Table:
    try:
        return connector(settings, source).read(ReadRequest(table=source))
    except SourceError as exc:
        if "missing" not in exc.message:
            raise
        spec = active_deployment(settings).sources.get(source)
        how = (
            "run `potluck engineer`"
            if spec is not None and spec.engineered
            else f"load it with `potluck load {source} FILE`"
        )
        raise SourceError(exc.source, exc.connector, f"{exc.detail}: {how}") from None


def held_back_path(settings: Settings, source: str) -> Path:
    """Where :func:`seed` keeps the events it withheld from ``source`` (for a replay)."""
    return settings.data_dir / "withheld" / f"{source}.parquet"


def seed(
    settings: Settings,
    *,
    size: int,
    seed: int,
    as_of: datetime,
    withhold: Mapping[str, datetime] | None = None,
) -> dict[str, int]:
    """Generate the deployment's synthetic sources and write each to its connector.

    ``withhold`` maps a source to a cut-off: its rows after the cut-off are not written
    but kept at :func:`held_back_path` in time order, for the demo to replay on a stream.
    """
    deployment = active_deployment(settings)
    if deployment.generate is None:
        raise ConfigurationError(
            f"deployment '{deployment.name}' declares no synthetic generator: "
            "bring data with `potluck load SOURCE FILE`"
        )
    tables = dict(deployment.generate(size, seed, as_of))
    for name, cut in (withhold or {}).items():
        tables[name] = _withhold(settings, name, tables[name], deployment, cut)
    if any(b["kind"] == "iceberg" for b in source_bindings(settings).values()):
        from potluck.profiles import prepare_iceberg_catalog

        prepare_iceberg_catalog(settings)  # services: the catalog's database
    rows = {
        name: _write_source(
            connector(settings, name), name, tables[name], deployment.sources[name].seed_commit_by
        )
        for name in deployment.loaded_sources
        if name in tables
    }
    save_state(
        settings, SeedState(as_of=as_of, size=size, seed=seed, deployment=settings.deployment)
    )
    return rows


def _withhold(
    settings: Settings, source: str, table: pa.Table, deployment: Deployment, cut: datetime
) -> pa.Table:
    """``table``'s rows up to ``cut``; the later ones go to :func:`held_back_path`."""
    import pyarrow.parquet as pq

    timestamp = deployment.sources[source].timestamp_field
    ts = table[timestamp]
    late = pc.greater(ts, pa.scalar(cut, ts.type))
    held = table.filter(late).sort_by(timestamp)  # a stable sort: the stream's order
    path = held_back_path(settings, source)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(held, path)
    return table.filter(pc.invert(late))


def _write_source(conn: Connector, name: str, table: pa.Table, commit_by: str | None) -> int:
    """One write, or one commit per distinct ``commit_by`` value, oldest first (the first
    replaces what the source held, the rest append)."""
    if commit_by is None or table.num_rows == 0:
        return conn.write(name, table)
    values = pc.unique(table[commit_by])
    values = values.take(pc.sort_indices(values))
    rows = 0
    for i, value in enumerate(values):
        part = table.filter(pc.equal(table[commit_by], value))
        rows += conn.write(name, part, mode="replace" if i == 0 else "append")
    return rows


@dataclass(frozen=True)
class EngineeringRun:
    """What :func:`engineer_features` did: which engine ran, rows written per view, and the
    engine's own seconds (reading the sources and writing the outputs not included)."""

    engine: Engine
    rows: dict[str, int]
    compute_s: float
    as_of: datetime | None = None


def _anchor_time(
    settings: Settings,
    deployment: Deployment,
    as_of: datetime | None,
    anchor: pa.Table,
    timestamp: str,
) -> datetime:
    """The run's anchor: ``as_of``, else the seed/load record, else the anchor's latest time."""
    if as_of is not None:
        return as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC)
    state = state_or_none(settings)
    if state is not None:
        return state.as_of
    latest = pc.max(anchor.column(timestamp)).as_py() if anchor.num_rows else None
    if latest is None:
        raise SourceError(
            deployment.engineering.anchor if deployment.engineering else "anchor",
            "engineering",
            "the anchor source has no rows with a timestamp: load data first or pass --as-of",
        )
    return latest if latest.tzinfo else latest.replace(tzinfo=UTC)


def engineer_features(
    settings: Settings, sample_rows: int = 200, as_of: datetime | None = None
) -> EngineeringRun:
    """Compute the engineered views point-in-time from the sources with the engine of
    ``settings.engineering_engine``; write each through its connector + a CSV sample."""
    from potluck.engineering.engines import compute_with, resolve_engine
    from potluck.engineering.pipeline import snapshot_times

    deployment = active_deployment(settings)
    spec = deployment.engineering
    engine = resolve_engine(settings.engineering_engine, settings.profile)
    if spec is None:
        return EngineeringRun(engine=engine, rows={}, compute_s=0.0)
    keys = dict(deployment.entity(deployment.sources[spec.anchor].entity).join_keys)
    needed = {spec.anchor, *spec.inputs, *(rm.source for rm in spec.running_max)}
    tables = {name: read_source_table(settings, name) for name in sorted(needed)}
    anchor_at = _anchor_time(
        settings, deployment, as_of, tables[spec.anchor], spec.anchor_timestamp
    )
    snapshots = snapshot_times(tables[spec.anchor], keys, spec.anchor_timestamp, anchor_at)
    started = time.perf_counter()
    outputs = compute_with(engine, spec, keys, tables, snapshots)
    compute_s = time.perf_counter() - started
    rows = {}
    sample_dir = settings.data_dir / "engineered"
    sample_dir.mkdir(parents=True, exist_ok=True)
    for name in deployment.engineered_sources:
        rows[name] = connector(settings, name).write(name, outputs[name])
        pacsv.write_csv(outputs[name].slice(0, sample_rows), sample_dir / f"{name}_sample.csv")
    return EngineeringRun(engine=engine, rows=rows, compute_s=round(compute_s, 3), as_of=anchor_at)


def engineer(settings: Settings, sample_rows: int = 200) -> dict[str, int]:
    """:func:`engineer_features`, returning only the rows written per engineered view."""
    return engineer_features(settings, sample_rows).rows
