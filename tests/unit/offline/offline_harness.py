"""Building blocks of the offline-store tests: configs, Feast objects, a federated world.

A *world* is one Feast repository whose feature views live in three different
source systems -- a SQLite file, a Parquet directory and a JSON-lines
directory -- read by the federated offline store. Tests load rows into it,
ask Feast for a training set and compare with :mod:`reference`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
from feast import Entity, FeatureStore, FeatureView, Field, RepoConfig
from feast.types import Float64, Int64, PrimitiveFeastType, String
from feast.value_type import ValueType
from hypothesis import HealthCheck, settings
from reference import RefView

from potluck.connectors import Connector, open_connector
from potluck.offline.source import PotluckSource

STORE_TYPE = "potluck.offline.store.FederatedOfflineStore"
UTC_US = pa.timestamp("us", tz="UTC")
BASE = datetime(2024, 3, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
MICRO = timedelta(microseconds=1)

# One fixed, derandomized profile for every property test here: the same examples
# on every run and machine, no example database written into the checkout.
PROPERTY_SETTINGS = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=60,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

ARROW = {Int64: pa.int64(), Float64: pa.float64(), String: pa.string()}


def binding(kind: str, base: Path) -> dict[str, Any]:
    """Profile options putting a connector of ``kind`` under ``base``."""
    if kind == "sqlite":
        return {"kind": "sqlite", "options": {"path": str(base / "sources.db")}}
    return {"kind": kind, "options": {"root": str(base / kind)}}


def repo_config(
    root: Path,
    sources: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    project: str = "potluck_test",
    offline_store: Mapping[str, Any] | None = None,
    **extra: Any,
) -> RepoConfig:
    """A local RepoConfig with a file registry and a SQLite online store under ``root``."""
    offline = dict(offline_store or {"type": STORE_TYPE, "sources": dict(sources or {})})
    return RepoConfig(
        project=project,
        provider="local",
        registry=str(root / "registry.db"),
        offline_store=offline,
        online_store={"type": "sqlite", "path": str(root / "online.db")},
        entity_key_serialization_version=3,
        repo_path=root,
        **extra,
    )


def connector(config: RepoConfig, logical: str) -> Connector:
    """A fresh connector for ``logical`` built from the config's bindings."""
    spec = config.offline_store.sources[logical]
    return open_connector(logical, spec.kind, spec.options)


@dataclass(frozen=True)
class ViewSpec:
    """One feature view of a world and the source table behind it."""

    name: str
    logical: str
    kind: str
    table: str
    entity: Entity
    key_type: pa.DataType
    features: Mapping[str, PrimitiveFeastType]
    ttl: timedelta | None

    @property
    def key(self) -> str:
        return self.entity.join_key

    def schema(self) -> pa.Schema:
        fields = [
            pa.field(self.key, self.key_type),
            pa.field("event_ts", UTC_US),
            pa.field("created_ts", UTC_US),
        ]
        fields += [pa.field(n, ARROW[t]) for n, t in self.features.items()]
        return pa.schema(fields)

    def arrow(self, rows: Sequence[Mapping[str, Any]]) -> pa.Table:
        return pa.Table.from_pylist([dict(r) for r in rows], schema=self.schema())

    def feature_view(self) -> FeatureView:
        source = PotluckSource(
            name=f"{self.name}_source",
            source=self.logical,
            table=self.table,
            timestamp_field="event_ts",
            created_timestamp_column="created_ts",
        )
        return FeatureView(
            name=self.name,
            entities=[self.entity],
            ttl=self.ttl if self.ttl is not None else timedelta(0),
            schema=[Field(name=n, dtype=t) for n, t in self.features.items()],
            source=source,
        )

    def reference(self, rows: Sequence[Mapping[str, Any]]) -> RefView:
        return RefView(
            name=self.name,
            keys=(self.key,),
            features=tuple(self.features),
            rows=list(rows),
            ttl=self.ttl,
        )

    def refs(self) -> list[str]:
        return [f"{self.name}:{f}" for f in self.features]


PATIENT = Entity(name="patient", join_keys=["pid"], value_type=ValueType.STRING)
SITE = Entity(name="site", join_keys=["site_id"], value_type=ValueType.INT64)

# Three views, three systems, two entities, three TTL regimes (3 h, none, 2 h).
WORLD_VIEWS = (
    ViewSpec(
        name="vitals",
        logical="clinical",
        kind="sqlite",
        table="vitals",
        entity=PATIENT,
        key_type=pa.string(),
        features={"v_int": Int64, "v_float": Float64, "v_str": String},
        ttl=3 * HOUR,
    ),
    ViewSpec(
        name="lifestyle",
        logical="lifestyle",
        kind="parquet",
        table="lifestyle",
        entity=PATIENT,
        key_type=pa.string(),
        features={"l_int": Int64, "l_float": Float64},
        ttl=None,
    ),
    ViewSpec(
        name="sites",
        logical="admin",
        kind="jsonl",
        table="sites",
        entity=SITE,
        key_type=pa.int64(),
        features={"s_int": Int64, "s_str": String},
        ttl=2 * HOUR,
    ),
)


@dataclass
class World:
    root: Path
    config: RepoConfig
    store: FeatureStore
    views: tuple[ViewSpec, ...]

    def load(self, data: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
        """Replace every view's source table with ``data[view]`` (missing: empty)."""
        for spec in self.views:
            connector(self.config, spec.logical).write(
                spec.table, spec.arrow(data.get(spec.name, []))
            )

    def reference(self, data: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[RefView]:
        return [spec.reference(data.get(spec.name, [])) for spec in self.views]

    def refs(self) -> list[str]:
        return [ref for spec in self.views for ref in spec.refs()]


def build_world(root: Path, views: Sequence[ViewSpec] = WORLD_VIEWS) -> World:
    """Bind every view's logical source, seed empty tables, apply the repository."""
    sources = {spec.logical: binding(spec.kind, root / "data") for spec in views}
    config = repo_config(root, sources)
    world = World(root=root, config=config, store=FeatureStore(config=config), views=tuple(views))
    world.load({})
    entities = list({spec.entity.name: spec.entity for spec in views}.values())
    world.store.apply([*entities, *(spec.feature_view() for spec in views)])
    return world


def entity_frame(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    """An entity DataFrame with exact dtypes (object keys, int64 ids, UTC microseconds)."""
    frame = pd.DataFrame({c: [r[c] for r in rows] for c in columns})
    for column in columns:
        values = [r[column] for r in rows]
        if column == "event_timestamp":
            frame[column] = pd.to_datetime(pd.Series(values, dtype=object), utc=True).astype(
                "datetime64[us, UTC]"
            )
        elif all(isinstance(v, int) for v in values):
            frame[column] = pd.Series(values, dtype="int64")
        else:
            frame[column] = pd.Series(values, dtype=object)
    return frame
