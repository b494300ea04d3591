"""``potluck load SOURCE FILE``: a user's file into one of the deployment's sources.

The whole file is checked against the source's declared schema first; a refused file
writes nothing, so the table already there stays as it was. The first load of a home
also records its time anchor (the latest timestamp loaded), which ``engineer`` and
``materialize`` use instead of a seed run's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import pyarrow.compute as pc

from potluck.deployment import active_deployment
from potluck.errors import InvalidInputError, RequestError
from potluck.ingest.conform import ConformError, conform
from potluck.ingest.read import read_file
from potluck.settings import Settings

__all__ = ["LoadResult", "load"]


@dataclass(frozen=True)
class LoadResult:
    source: str
    rows: int
    mode: str
    connector: str
    latest: datetime | None


def load(
    settings: Settings,
    source: str,
    path: Path,
    *,
    mode: Literal["append", "replace"] = "append",
    stamp: datetime | None = None,
) -> LoadResult:
    """Check ``path`` against ``source``'s schema and write it (see the module docstring)."""
    from potluck.workflows.data import connector
    from potluck.workflows.state import SeedState, save_state, state_or_none

    deployment = active_deployment(settings)
    spec = deployment.sources.get(source)
    if spec is None:
        known = ", ".join(deployment.loaded_sources)
        raise RequestError(
            f"unknown source '{source}' (deployment '{deployment.name}' has: {known})"
        )
    if spec.engineered:
        raise RequestError(f"source '{source}' is computed by `potluck engineer`, not loaded")
    if mode not in ("append", "replace"):
        raise RequestError(f"--mode must be append or replace, got {mode!r}")
    if stamp is not None and stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    raw = read_file(path)
    if raw.num_rows == 0:
        raise RequestError(f"{path.name} has no rows")
    keys = deployment.join_keys_of(source)
    try:
        table = conform(
            raw,
            spec.schema,
            timestamp_field=spec.timestamp_field,
            stamp=stamp,
            required=[*keys, spec.timestamp_field],
        )
    except ConformError as exc:
        hint = (
            f" (no '{spec.timestamp_field}' column? pass --time ISO to stamp every row)"
            if any(spec.timestamp_field in p and "missing" in p for p in exc.problems)
            else ""
        )
        raise InvalidInputError(f"{path.name} for source '{source}'{hint}", exc.problems) from None
    target = connector(settings, source)
    rows = target.write(source, table, mode=mode)
    latest = pc.max(table[spec.timestamp_field]).as_py()
    if state_or_none(settings) is None and latest is not None:
        save_state(
            settings,
            SeedState(as_of=latest, size=table.num_rows, seed=0, deployment=settings.deployment),
        )
    return LoadResult(source=source, rows=rows, mode=mode, connector=target.kind, latest=latest)
