"""Seed the source systems and compute the engineered features."""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa
import pyarrow.csv as pacsv

from potluck.connectors import Connector, ReadRequest
from potluck.offline.bindings import SourceBinding, connector_for_name
from potluck.profiles import ENGINEERED_SOURCES, LOGICAL_SOURCES, source_bindings
from potluck.settings import Settings
from potluck.workflows.state import SeedState, load_state, save_state

__all__ = ["connector", "engineer", "read_source_table", "seed"]


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


def engineer(settings: Settings, sample_rows: int = 200) -> dict[str, int]:
    """Compute the engineered views point-in-time from the sources; write Parquet + a CSV sample."""
    from potluck.engineering.pipeline import compute, snapshot_times

    state = load_state(settings)
    tables = {name: read_source_table(settings, name) for name in LOGICAL_SOURCES}
    snapshots = snapshot_times(tables["stroke_outcomes"], state.as_of)
    outputs = compute(tables, snapshots)
    rows = {}
    sample_dir = settings.data_dir / "engineered"
    sample_dir.mkdir(parents=True, exist_ok=True)
    for name in ENGINEERED_SOURCES:
        rows[name] = connector(settings, name).write(name, outputs[name])
        pacsv.write_csv(outputs[name].slice(0, sample_rows), sample_dir / f"{name}_sample.csv")
    return rows
