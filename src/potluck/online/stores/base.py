"""What a fast online-store backend implements: a bulk writer and a batched reader.

Both speak Feast's on-disk layout exactly (``ViewLayout`` carries the names
Feast derives: SQLite table id, Redis hash field names), so Feast's own
``get_online_features``, ``feast serve`` and the UI read what the writer wrote,
and the reader reads what Feast's ``materialize`` wrote.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa
from feast.feature_view import FeatureView
from feast.repo_config import RepoConfig
from feast.value_type import ValueType

__all__ = ["Encoded", "OnlineReader", "OnlineWriter", "ViewLayout", "ViewRead", "layout_of"]


@dataclass(frozen=True)
class ViewLayout:
    """One feature view as the online store keeps it."""

    name: str  # the feature view's name
    stored_name: str  # versioned name: SQLite table suffix, Redis field prefix
    project: str
    join_keys: dict[str, ValueType]
    features: dict[str, ValueType]  # every feature of the view, sorted by name


def layout_of(config: RepoConfig, view: FeatureView) -> ViewLayout:
    from feast.infra.online_stores.helpers import compute_versioned_name

    versioning = bool(config.registry.enable_online_feature_view_versioning)
    return ViewLayout(
        name=view.name,
        stored_name=compute_versioned_name(view, versioning),
        project=config.project,
        join_keys={c.name: c.dtype.to_value_type() for c in view.entity_columns},
        features={f.name: f.dtype.to_value_type() for f in sorted(view.features, key=_name)},
    )


def _name(field: object) -> str:
    return str(getattr(field, "name", ""))


class Encoded:
    """A batch serialized by one writer, opaque to everyone else."""

    rows: int


@dataclass(frozen=True)
class ViewRead:
    """What a read returns for one view: per entity, the event time in whole seconds
    (0 when the view has no row for it) and the raw value bytes of each requested
    feature (None when absent)."""

    seconds: list[int]
    values: dict[str, list[bytes | None]]


class OnlineWriter(ABC):
    """Bulk upserts of materialized rows, byte-equal to Feast's ``online_write_batch``.

    A write is two steps so a caller can overlap them: :meth:`encode` (Python and
    Arrow work that holds the GIL: serializing values, building statements or wire
    payloads) and :meth:`store` (the database round trip, which mostly runs without
    the GIL). Materialization encodes the next batch while the previous one is stored."""

    @abstractmethod
    def encode(
        self,
        layout: ViewLayout,
        rows: pa.Table,
        timestamp: str,
        created: str | None,
    ) -> Encoded:
        """Serialize ``rows`` (join keys, the timestamp columns, every feature by name)."""

    @abstractmethod
    def store(self, encoded: Encoded) -> int:
        """Upsert what :meth:`encode` produced; returns the entity rows written."""

    def write(
        self,
        layout: ViewLayout,
        rows: pa.Table,
        timestamp: str,
        created: str | None,
    ) -> int:
        """Encode and store in one call."""
        return self.store(self.encode(layout, rows, timestamp, created))

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


class OnlineReader(ABC):
    """Reads many views for a batch of entities in one round trip."""

    @abstractmethod
    def read(
        self,
        views: Sequence[tuple[ViewLayout, Sequence[str]]],
        entity_keys: Sequence[bytes],
    ) -> list[ViewRead]:
        """One :class:`ViewRead` per requested view, entities in the given order."""
