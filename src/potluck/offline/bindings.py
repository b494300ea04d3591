"""How a logical source becomes a live connector: the offline store's config.

``feature_store.yaml`` (written by potluck from the active profile) carries::

    offline_store:
      type: potluck.offline.store.FederatedOfflineStore
      sources:
        clinical_measurements: {kind: sqlite, options: {path: data/sources.db}}
        lifestyle_data:        {kind: parquet, options: {root: data/parquet}}

Connectors are cached per binding so repeated retrievals reuse connections.
"""

from __future__ import annotations

import json
import threading
from typing import Any, Final, Literal

from feast.repo_config import FeastConfigBaseModel, RepoConfig
from pydantic import Field

from potluck.connectors import Connector, open_connector
from potluck.errors import ConfigurationError

__all__ = [
    "FederatedOfflineStoreConfig",
    "SourceBinding",
    "binding_for",
    "connector_for",
    "connector_for_name",
]

STORE_TYPE: Final = "potluck.offline.store.FederatedOfflineStore"


class SourceBinding(FeastConfigBaseModel):
    """Which connector serves one logical source, and its options."""

    kind: str
    options: dict[str, Any] = Field(default_factory=dict)


class FederatedOfflineStoreConfig(FeastConfigBaseModel):
    """Offline store config: the profile's source bindings and the join engine."""

    type: Literal["potluck.offline.store.FederatedOfflineStore"] = STORE_TYPE
    sources: dict[str, SourceBinding] = Field(default_factory=dict)
    engine: Literal["duckdb", "spark"] = "duckdb"


# Feast derives the store class from the config class's *module*
# (``get_offline_store_from_config``: ``{config.__module__}.FederatedOfflineStore``),
# so the config must claim the store's module or Feast cannot build the store.
# ``potluck.offline.store`` re-exports this class, so pickling still resolves it.
FederatedOfflineStoreConfig.__module__ = "potluck.offline.store"


_cache: dict[tuple[str, str, str], Connector] = {}
_lock = threading.Lock()


def _store_config(config: RepoConfig) -> FederatedOfflineStoreConfig:
    store = config.offline_store
    if not isinstance(store, FederatedOfflineStoreConfig):
        raise ConfigurationError(
            f"offline_store.type must be '{STORE_TYPE}' to read potluck sources "
            f"(got {type(store).__name__})"
        )
    return store


def binding_for(config: RepoConfig, data_source: Any) -> SourceBinding:
    """The binding of ``data_source.source`` in the config, or a ConfigurationError."""
    store = _store_config(config)
    logical = getattr(data_source, "source", None) or data_source.name
    binding = store.sources.get(logical)
    if binding is None:
        known = ", ".join(sorted(store.sources)) or "none"
        raise ConfigurationError(
            f"source '{logical}' has no connector binding in the active profile (bound: {known})"
        )
    return binding


def connector_for_name(logical: str, binding: SourceBinding) -> Connector:
    key = (logical, binding.kind, json.dumps(binding.options, sort_keys=True, default=str))
    with _lock:
        connector = _cache.get(key)
        if connector is None:
            connector = open_connector(logical, binding.kind, binding.options)
            _cache[key] = connector
        return connector


def connector_for(config: RepoConfig, data_source: Any) -> Connector:
    """The (cached) connector that serves ``data_source``."""
    binding = binding_for(config, data_source)
    logical = getattr(data_source, "source", None) or data_source.name
    return connector_for_name(logical, binding)
