"""``FeatureRepo``: the one place that builds and holds Feast's ``FeatureStore``.

Everything else in potluck talks to this narrow object (apply, resolve,
retrieve, materialize) instead of passing the 5,000-line ``FeatureStore``
around. Feast is imported lazily so CLI start-up stays fast.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from potluck.errors import ConfigurationError
from potluck.profiles import feature_store_yaml, repo_config_dict
from potluck.settings import Settings

if TYPE_CHECKING:
    from feast import FeatureStore
    from feast.repo_config import RepoConfig

    from potluck.features.resolve import ResolvedFeatures

__all__ = ["FeatureRepo"]


class FeatureRepo:
    """The feature repository of one profile: its config, registry and stores."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def config(self) -> RepoConfig:
        from feast.repo_config import RepoConfig
        from pydantic import ValidationError

        repo_dir = self.settings.repo_dir
        repo_dir.mkdir(parents=True, exist_ok=True)
        # Written so the plain `feast` CLI and UI work on the same repo.
        (repo_dir / "feature_store.yaml").write_text(feature_store_yaml(self.settings))
        try:
            return RepoConfig(repo_path=repo_dir, **repo_config_dict(self.settings))
        except ValidationError as exc:
            raise ConfigurationError(f"invalid feature store config: {exc}") from None

    @cached_property
    def store(self) -> FeatureStore:
        from feast import FeatureStore

        return FeatureStore(config=self.config)

    def apply(self, objects: Sequence[Any] | None = None) -> dict[str, int]:
        """Register the active deployment's objects (or ``objects``); returns counts per kind."""
        if objects is None:
            from potluck.deployment import active_deployment

            deployment = active_deployment(self.settings)
            objects = deployment.objects()
            self._write_definitions(deployment.definitions, objects)
        self._prepare_online_store(objects)
        self.store.apply(list(objects))
        self.store.refresh_registry()
        self._record_infra()
        project = self.store.project
        registry = self.store.registry
        return {
            "entities": len(registry.list_entities(project)),
            "feature_views": len(registry.list_feature_views(project)),
            "on_demand_feature_views": len(registry.list_on_demand_feature_views(project)),
            "feature_services": len(registry.list_feature_services(project)),
        }

    def _record_infra(self) -> None:
        """Store the online tables in the registry's infra record, as ``feast apply`` does
        (``FeatureStore.apply`` leaves it alone), so ``feast plan`` reports no infra change."""
        from feast.protos.feast.core.Registry_pb2 import Registry as RegistryProto

        registry, project = self.store.registry, self.store.project
        desired = RegistryProto()
        desired.feature_views.extend(v.to_proto() for v in registry.list_feature_views(project))
        desired.stream_feature_views.extend(
            v.to_proto() for v in registry.list_stream_feature_views(project)
        )
        infra = self.store._get_provider().plan_infra(self.config, desired)
        registry.update_infra(infra, project, commit=True)

    def _write_definitions(self, module_name: str, objects: Sequence[Any]) -> None:
        """The repo folder's definitions module, so Feast's CLI sees what potluck applies."""
        from potluck.deployment import BUILT_INS
        from potluck.features.definitions import write_definitions

        choice = self.settings.deployment.strip()
        folder = Path(choice).expanduser()
        path_entry = folder.resolve() if choice not in BUILT_INS and folder.is_dir() else None
        write_definitions(self.settings.repo_dir, module_name, objects, path_entry)

    def _prepare_online_store(self, objects: Sequence[Any]) -> None:
        """Create the SQLite online database, and its views' tables, the way potluck's
        writer is fastest with, before Feast's ``apply`` creates them with its defaults
        (see ``prepare_database`` and ``create_view_table``). Feast then finds them in
        place and reads and writes them as its own."""
        from potluck.online.stores import store_kind

        if store_kind(self.config) != "sqlite":
            return
        from feast.feature_view import FeatureView

        from potluck.online.stores.base import layout_of
        from potluck.online.stores.sqlite._common import (
            connect,
            create_view_table,
            prepare_database,
            sqlite_path,
        )

        path = sqlite_path(self.config)
        prepare_database(path)
        if self.config.registry.enable_online_feature_view_versioning:
            return  # table names carry a version that only Feast's apply assigns
        conn = connect(path)
        try:
            for view in objects:
                if isinstance(view, FeatureView) and view.online:
                    create_view_table(conn, layout_of(self.config, view))
        finally:
            conn.close()

    def resolve(self, features: str | Sequence[str]) -> ResolvedFeatures:
        from potluck.deployment import active_deployment
        from potluck.features.resolve import resolve_features

        contract = active_deployment(self.settings)
        return resolve_features(
            self.store,
            features,
            contract_pii=contract.pii_columns,
            contract_label=contract.label_columns,
        )
