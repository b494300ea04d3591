"""Shared plumbing of the checks: durations, view sources, entity samples, source reads."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from potluck.connectors import ReadRequest
from potluck.errors import ConfigurationError

if TYPE_CHECKING:
    from feast import FeatureView

    from potluck.features.repo import FeatureRepo

__all__ = [
    "ViewSource",
    "feature_views",
    "parse_duration",
    "read_view_rows",
    "sample_entity_ids",
    "to_utc",
    "view_source",
]

_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([wdhms])")


def parse_duration(text: str) -> timedelta:
    """``"400d"``, ``"12h"``, ``"1d12h"``, ``"2w"`` -> timedelta."""
    cleaned = text.strip().lower()
    parts = _DURATION.findall(cleaned)
    if not parts or _DURATION.sub("", cleaned).strip():
        raise ConfigurationError(
            f"invalid duration {text!r}: use a number and a unit w/d/h/m/s, e.g. '400d' or '12h'"
        )
    return timedelta(seconds=sum(float(n) * _UNITS[u] for n, u in parts))


def to_utc(moment: datetime) -> datetime:
    """Naive datetimes are UTC (the data contract's rule)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class ViewSource:
    """Where a feature view's rows live: its data source and columns."""

    source: Any  # the Feast data source (a PotluckSource for potluck repos)
    logical: str
    table: str
    timestamp_field: str
    created_column: str | None
    join_keys: list[str]


def view_source(view: FeatureView) -> ViewSource:
    source = view.batch_source
    if source is None:
        raise ConfigurationError(f"feature view '{view.name}' has no batch source")
    logical = getattr(source, "source", None) or source.name
    return ViewSource(
        source=source,
        logical=logical,
        table=getattr(source, "table", None) or logical,
        timestamp_field=source.timestamp_field,
        created_column=source.created_timestamp_column or None,
        join_keys=[c.name for c in view.entity_columns],
    )


def feature_views(repo: FeatureRepo, names: Sequence[str] | None = None) -> list[FeatureView]:
    """The registry's feature views (optionally only ``names``, all of which must exist)."""
    views = list(repo.store.registry.list_feature_views(repo.store.project, allow_cache=False))
    if names is None:
        return views
    known = {v.name: v for v in views}
    unknown = sorted(set(names) - set(known))
    if unknown:
        from potluck.errors import FeatureReferenceError

        raise FeatureReferenceError(unknown, hint=f"feature views: {', '.join(sorted(known))}")
    return [known[n] for n in names]


def read_view_rows(
    repo: FeatureRepo,
    view: FeatureView,
    columns: Sequence[str] | None = None,
    *,
    keys: Sequence[str] | None = None,
    end: datetime | None = None,
) -> pa.Table:
    """Rows of the view's source through its connector (keys and end pushed down)."""
    from potluck.offline.bindings import connector_for

    src = view_source(view)
    connector = connector_for(repo.config, src.source)
    return connector.read(
        ReadRequest(
            table=src.table,
            columns=list(columns) if columns is not None else None,
            key_column=src.join_keys[0] if keys is not None else None,
            keys=list(keys) if keys is not None else None,
            timestamp_column=src.timestamp_field if end is not None else None,
            end=end,
        )
    )


def sample_entity_ids(repo: FeatureRepo, size: int, seed: int = 0) -> list[str]:
    """A deterministic sample of entity ids present in the views' sources, sorted."""
    ids: set[str] = set()
    for view in feature_views(repo):
        src = view_source(view)
        if len(src.join_keys) != 1:
            continue
        try:
            column = read_view_rows(repo, view, [src.join_keys[0]]).column(0)
        except Exception:  # an unreadable source is reported by the check that reads it
            continue
        ids.update(str(v) for v in pc.unique(column).to_pylist() if v is not None)
    ordered = sorted(ids)
    if len(ordered) <= size:
        return ordered
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(ordered), size=size, replace=False)
    return sorted(ordered[i] for i in picked)
