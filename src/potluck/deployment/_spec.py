"""What a deployment declares: its data contract, its features and its model.

Everything domain-specific lives in one :class:`Deployment`; the core
(connectors, offline/online, engineering, ml, api, quality, cli) takes it as an
argument and names no domain of its own. The contract parts (entities, sources,
label) are plain data built on pyarrow only, so reading a deployment is cheap;
the Feast objects come from :attr:`Deployment.definitions`, a module imported
only when a command needs the registry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import pyarrow as pa

__all__ = [
    "AsOfInput",
    "Binding",
    "DemoPush",
    "Deployment",
    "EngineeringSpec",
    "EntitySpec",
    "LabelSpec",
    "MaxAtOrBefore",
    "ModelDefaults",
    "SourceSpec",
]

Task = Literal["classification", "regression"]
Profile = Literal["embedded", "services"]


@dataclass(frozen=True)
class EntitySpec:
    """One entity: its name and join keys (any names; string or integer; composite allowed)."""

    name: str
    join_keys: Mapping[str, pa.DataType]
    description: str = ""

    @property
    def key_names(self) -> list[str]:
        return list(self.join_keys)


@dataclass(frozen=True)
class Binding:
    """Where a source lives on one profile: a connector kind and hints for its options.

    Hints are relative: ``{"file": "app.db"}`` for SQLite, ``{"folder": "lake"}`` for
    Parquet / JSON lines (under the deployment's data folder), ``{"prefix": "lake"}``
    for S3. Server kinds (postgres, mongodb, mssql) take their address from settings.
    """

    kind: str
    hints: Mapping[str, Any] = field(default_factory=dict)


EMBEDDED_DEFAULT = Binding("parquet", {"folder": "lake"})
SERVICES_DEFAULT = Binding("s3", {"prefix": "lake"})


@dataclass(frozen=True)
class SourceSpec:
    """One logical source of the data contract.

    ``pii`` columns are stored (the upstream system holds them) but can never be a
    served or trained feature. ``label_derived`` columns are computed from the label
    (or leak it) and are refused as features like the label itself.
    """

    schema: pa.Schema
    timestamp_field: str
    entity: str
    pii: frozenset[str] = frozenset()
    label_derived: frozenset[str] = frozenset()
    bindings: Mapping[str, Binding] = field(default_factory=dict)
    engineered: bool = False  # written by the engineering step, not loaded
    description: str = ""
    # The seed writes this source as one commit per distinct value of this column,
    # oldest first (a table format with snapshots, Iceberg, then holds the history:
    # one snapshot per month, say). None: one write.
    seed_commit_by: str | None = None

    def binding(self, profile: str) -> Binding:
        default = EMBEDDED_DEFAULT if profile == "embedded" else SERVICES_DEFAULT
        if self.engineered:
            folder = "engineered"
            default = Binding(default.kind, {"folder": folder, "prefix": folder})
        return self.bindings.get(profile, default)


@dataclass(frozen=True)
class LabelSpec:
    """The label: which source and column, its positive class, what is derived from it.

    ``oracle_column`` (optional) holds the generator's true probability or expected
    value for each label row, so a trained model is judged against the best possible.
    """

    source: str
    column: str
    task: Task = "classification"
    positive: Any = 1
    derived: frozenset[str] = frozenset()
    oracle_column: str | None = None


@dataclass(frozen=True)
class ModelDefaults:
    name: str
    framework: str = "sklearn"
    metric: str = "roc_auc"
    feature_service: str = ""


@dataclass(frozen=True)
class AsOfInput:
    """Columns taken from a source's latest row at or before each snapshot time.

    ``columns`` maps a source column to the name the engineering functions know it by
    (the same name unless it would clash with a feature of the same name).
    """

    timestamp: str
    columns: Mapping[str, str]


@dataclass(frozen=True)
class MaxAtOrBefore:
    """The greatest ``column`` value that is at or before t, among rows whose
    ``timestamp`` is at or before t (e.g. the latest event date recorded by then)."""

    source: str
    timestamp: str
    column: str
    output: str


@dataclass(frozen=True)
class EngineeringSpec:
    """Engineered views: point-in-time inputs, then pure functions wired by name.

    Every output view has the anchor's entity join keys and ``event_timestamp``.
    Snapshot times are every (key, ``anchor_timestamp``) of ``anchor`` plus the run's
    ``as_of`` for each key. Functions are the public functions of ``modules``: each is
    named after its output and takes other outputs or inputs as parameters (the
    Hamilton convention), so the DAG is read from the code. ``event_timestamp`` is the
    snapshot time; every input column and ``MaxAtOrBefore`` output is a node too.
    """

    anchor: str
    anchor_timestamp: str
    inputs: Mapping[str, AsOfInput]
    outputs: Mapping[str, pa.Schema]
    modules: Sequence[str]  # import names of the modules holding the feature functions
    running_max: Sequence[MaxAtOrBefore] = ()


Generator = Callable[[int, int, datetime], Mapping[str, pa.Table]]


@dataclass(frozen=True)
class DemoPush:
    """What ``potluck demo`` pushes online after materializing, to show a service change.

    ``rows(ids, at)`` builds fresh rows of ``push_source`` for the entities ``ids`` as of
    ``at``; the demo reads ``service`` for them before and after the push (and after an
    incremental materialization), with ``request`` as request data when it needs any.
    """

    push_source: str
    service: str
    rows: Callable[[Sequence[Any], datetime], pa.Table]
    request: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DemoStream:
    """What ``potluck demo`` replays through the stream processor, live.

    The seed withholds ``source``'s events of the last ``hold_back`` before the demo's
    ``as_of``; the demo materializes at ``as_of - hold_back`` and then sends the withheld
    events to the source's stream in time order, ``batch`` at a time, runs the
    in-process processor over them, and scores the model's entity of every event online
    at the event's own time. A score at or above ``alert_at`` raises an alert.
    """

    source: str
    hold_back: timedelta = timedelta(hours=1)
    alert_at: float = 0.5
    batch: int = 25


@dataclass(frozen=True)
class Deployment:
    """Everything domain-specific about one deployment, declared in one place."""

    name: str
    entities: Sequence[EntitySpec]
    sources: Mapping[str, SourceSpec]
    definitions: str  # module with Feast objects: OBJECTS (and optionally PUSH_SOURCES)
    model: ModelDefaults
    label: LabelSpec | None = None
    engineering: EngineeringSpec | None = None
    generate: Generator | None = None
    default_size: int = 10_000
    description: str = ""
    entity_noun: str = "entities"
    # Where batch predictions asked for ``output: "iceberg"`` are written: a binding of
    # the iceberg kind (its ``namespace`` hint is the default namespace). None: the
    # ``predictions`` namespace of the profile's Iceberg catalog.
    prediction_sink: Binding | None = None
    demo_push: DemoPush | None = None
    demo_stream: DemoStream | None = None

    # ------------------------------------------------------------------ contract views
    @property
    def loaded_sources(self) -> list[str]:
        """Sources filled from outside (seed or load), in declaration order."""
        return [n for n, s in self.sources.items() if not s.engineered]

    @property
    def engineered_sources(self) -> list[str]:
        return [n for n, s in self.sources.items() if s.engineered]

    def entity(self, name: str) -> EntitySpec:
        for entity in self.entities:
            if entity.name == name:
                return entity
        known = ", ".join(e.name for e in self.entities)
        raise KeyError(f"no entity '{name}' (known: {known})")

    @property
    def primary_entity(self) -> EntitySpec:
        """The entity of the label's source, else the first declared."""
        if self.label is not None:
            return self.entity(self.sources[self.label.source].entity)
        return self.entities[0]

    def join_keys_of(self, source: str) -> list[str]:
        return self.entity(self.sources[source].entity).key_names

    @property
    def pii_columns(self) -> frozenset[str]:
        """Every column any source declares PII."""
        return frozenset().union(*(s.pii for s in self.sources.values()))

    @property
    def label_columns(self) -> frozenset[str]:
        """The label and every column derived from it, in any source."""
        out: set[str] = set()
        for spec in self.sources.values():
            out |= spec.label_derived
        if self.label is not None:
            out |= {self.label.column, *self.label.derived}
            if self.label.oracle_column:
                out.add(self.label.oracle_column)
        return frozenset(out)

    @property
    def forbidden_features(self) -> frozenset[str]:
        """Columns that may never be served, trained on or returned as features."""
        return self.pii_columns | self.label_columns

    def objects(self) -> list[Any]:
        """The Feast objects of :attr:`definitions` (imports Feast)."""
        module = _definitions(self.definitions)
        return list(module.OBJECTS)

    def push_sources(self) -> list[Any]:
        module = _definitions(self.definitions)
        return list(getattr(module, "PUSH_SOURCES", []))


def _definitions(name: str) -> Any:
    import importlib

    return importlib.import_module(name)
