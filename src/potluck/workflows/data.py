"""Seed the source systems and compute the engineered features."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.csv as pacsv

from potluck.connectors import Connector, ReadRequest
from potluck.offline.bindings import SourceBinding, connector_for_name
from potluck.profiles import ENGINEERED_SOURCES, LOGICAL_SOURCES, source_bindings
from potluck.settings import Settings
from potluck.workflows.state import SeedState, load_state, save_state

if TYPE_CHECKING:
    from potluck.engineering.engines import Engine

__all__ = [
    "EngineeringRun",
    "connector",
    "engineer",
    "engineer_features",
    "read_source_table",
    "seed",
]


def connector(settings: Settings, source: str) -> Connector:
    binding = source_bindings(settings)[source]
    return connector_for_name(source, SourceBinding(**binding))


def read_source_table(settings: Settings, source: str) -> pa.Table:
    return connector(settings, source).read(ReadRequest(table=source))


def seed(settings: Settings, *, patients: int, seed: int, as_of: datetime) -> dict[str, int]:
    """Generate the synthetic sources and write each to its connector."""
    from potluck.domains.healthcare.synth import generate

    tables = generate(patients, seed, as_of)
    rows = {name: connector(settings, name).write(name, tables[name]) for name in LOGICAL_SOURCES}
    save_state(settings, SeedState(as_of=as_of, patients=patients, seed=seed))
    return rows


@dataclass(frozen=True)
class EngineeringRun:
    """What :func:`engineer_features` did: which engine ran, rows written per view, and the
    engine's own seconds (reading the sources and writing the outputs not included)."""

    engine: Engine
    rows: dict[str, int]
    compute_s: float


def engineer_features(settings: Settings, sample_rows: int = 200) -> EngineeringRun:
    """Compute the engineered views point-in-time from the sources with the engine of
    ``settings.engineering_engine``; write each through its connector + a CSV sample."""
    from potluck.engineering.engines import compute_with, resolve_engine
    from potluck.engineering.pipeline import snapshot_times

    state = load_state(settings)
    engine = resolve_engine(settings.engineering_engine, settings.profile)
    tables = {name: read_source_table(settings, name) for name in LOGICAL_SOURCES}
    snapshots = snapshot_times(tables["stroke_outcomes"], state.as_of)
    started = time.perf_counter()
    outputs = compute_with(engine, tables, snapshots)
    compute_s = time.perf_counter() - started
    rows = {}
    sample_dir = settings.data_dir / "engineered"
    sample_dir.mkdir(parents=True, exist_ok=True)
    for name in ENGINEERED_SOURCES:
        rows[name] = connector(settings, name).write(name, outputs[name])
        pacsv.write_csv(outputs[name].slice(0, sample_rows), sample_dir / f"{name}_sample.csv")
    return EngineeringRun(engine=engine, rows=rows, compute_s=round(compute_s, 3))


def engineer(settings: Settings, sample_rows: int = 200) -> dict[str, int]:
    """:func:`engineer_features`, returning only the rows written per engineered view."""
    return engineer_features(settings, sample_rows).rows
