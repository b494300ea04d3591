"""``FederatedOfflineStore``: a Feast offline store whose views live in many systems.

Plain Feast routes a retrieval to one offline store and expects every view's
source to be of that store's type. This store reads each view through the
connector its logical source is bound to (SQLite, Parquet, documents,
PostgreSQL, S3, ...), pushing keys and time window down, and then runs one
point-in-time join over all of them -- so a training set can join PostgreSQL
measurements, S3 lifestyle surveys and MongoDB demographics in one call.

Configure it by class path in ``feature_store.yaml``::

    offline_store:
      type: potluck.offline.store.FederatedOfflineStore
      sources: {...}
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pyarrow as pa
from feast.data_source import DataSource
from feast.feature_view import FeatureView
from feast.infra.offline_stores.offline_store import OfflineStore, RetrievalJob, RetrievalMetadata
from feast.infra.registry.base_registry import BaseRegistry
from feast.on_demand_feature_view import OnDemandFeatureView
from feast.repo_config import RepoConfig

from potluck.connectors import ReadRequest
from potluck.errors import FeatureReferenceError
from potluck.offline.bindings import FederatedOfflineStoreConfig
from potluck.offline.entity_frame import normalize_entity_frame
from potluck.offline.job import FederatedRetrievalJob
from potluck.offline.pit_join import latest_per_key, point_in_time_join
from potluck.offline.pull import DistinctKeys, pull_view_slice, read_source
from potluck.offline.source import PotluckSource
from potluck.offline.windowed import is_windowed, window_columns

__all__ = ["FederatedOfflineStore", "FederatedOfflineStoreConfig"]


def _features_by_view(
    feature_views: list[FeatureView], feature_refs: list[str], full_feature_names: bool
) -> list[tuple[FeatureView, list[str], list[str]]]:
    """Group refs per view: (view, feature names, output column names), in ref order."""
    by_name = {view.projection.name_to_use(): view for view in feature_views}
    grouped: dict[str, tuple[list[str], list[str]]] = {}
    unknown: list[str] = []
    for ref in feature_refs:
        view_name, _, feature = ref.partition(":")
        view = by_name.get(view_name)
        if view is None:
            continue  # an on-demand view's ref: computed after the join
        if feature not in {f.name for f in view.features}:
            unknown.append(ref)
            continue
        names, outputs = grouped.setdefault(view_name, ([], []))
        if feature in names:
            continue
        prefix = view.projection.name_alias or view.name
        names.append(feature)
        outputs.append(f"{prefix}__{feature}" if full_feature_names else feature)
    if unknown:
        raise FeatureReferenceError(unknown)
    return [(by_name[name], names, outputs) for name, (names, outputs) in grouped.items()]


class FederatedOfflineStore(OfflineStore):
    """Feast offline store over potluck connectors; see the module docstring."""

    @staticmethod
    def get_historical_features(
        config: RepoConfig,
        feature_views: list[FeatureView],
        feature_refs: list[str],
        entity_df: Any,
        registry: BaseRegistry,
        project: str,
        full_feature_names: bool = False,
        **kwargs: Any,
    ) -> RetrievalJob:
        groups = _features_by_view(feature_views, feature_refs, full_feature_names)
        join_keys = {
            entity_col
            for view, _, _ in groups
            for entity_col in (
                dict(view.projection.join_key_map) or {c.name: c.name for c in view.entity_columns}
            ).values()
        }
        frame = normalize_entity_frame(entity_df, join_keys)
        odfvs = OnDemandFeatureView.get_requested_odfvs(feature_refs, project, registry)

        def compute() -> pa.Table:
            if frame.table.num_rows == 0:
                start = end = datetime.now().astimezone()
            else:
                start, end = frame.min_time, frame.max_time
            windowed = [g for g in groups if is_windowed(g[0])]
            distinct = DistinctKeys(frame.table)
            slices = [
                pull_view_slice(config, view, names, outputs, frame.table, start, end, distinct)
                for view, names, outputs in groups
                if not is_windowed(view)
            ]
            if getattr(config.offline_store, "engine", "duckdb") == "spark":
                from potluck.offline import spark_join  # pyspark only when asked for

                table = spark_join.point_in_time_join(frame.table, frame.timestamp_column, slices)
            else:
                table = point_in_time_join(frame.table, frame.timestamp_column, slices)
            for view, names, outputs in windowed:  # rows in the entity frame's order
                for name, values in window_columns(
                    config,
                    view,
                    names,
                    outputs,
                    frame.table,
                    frame.timestamp_column,
                    start,
                    end,
                    distinct,
                ):
                    table = table.append_column(name, values)
            return table

        metadata = RetrievalMetadata(
            features=feature_refs,
            keys=[c for c in frame.table.column_names if c != frame.timestamp_column],
            min_event_timestamp=frame.min_time if frame.table.num_rows else None,
            max_event_timestamp=frame.max_time if frame.table.num_rows else None,
        )
        return FederatedRetrievalJob(
            compute, full_feature_names, odfvs, metadata, list(frame.table.column_names)
        )

    @staticmethod
    def _pull(
        config: RepoConfig,
        data_source: DataSource,
        join_key_columns: list[str],
        feature_name_columns: list[str],
        timestamp_field: str,
        created_timestamp_column: str | None,
        start_date: datetime | None,
        end_date: datetime | None,
    ) -> pa.Table:
        assert isinstance(data_source, PotluckSource)
        columns = [*join_key_columns, *feature_name_columns, timestamp_field]
        if created_timestamp_column:
            columns.append(created_timestamp_column)
        request = ReadRequest(
            table=data_source.table,
            columns=list(dict.fromkeys(columns)),
            timestamp_column=timestamp_field,
            start=start_date,
            end=end_date,
        )
        return read_source(config, data_source, request)

    @staticmethod
    def pull_latest_from_table_or_query(
        config: RepoConfig,
        data_source: DataSource,
        join_key_columns: list[str],
        feature_name_columns: list[str],
        timestamp_field: str,
        created_timestamp_column: str | None,
        start_date: datetime,
        end_date: datetime,
    ) -> RetrievalJob:
        def compute() -> pa.Table:
            table = FederatedOfflineStore._pull(
                config,
                data_source,
                join_key_columns,
                feature_name_columns,
                timestamp_field,
                created_timestamp_column,
                start_date,
                end_date,
            )
            return latest_per_key(
                table, join_key_columns, timestamp_field, created_timestamp_column
            )

        return FederatedRetrievalJob(compute)

    @staticmethod
    def pull_all_from_table_or_query(
        config: RepoConfig,
        data_source: DataSource,
        join_key_columns: list[str],
        feature_name_columns: list[str],
        timestamp_field: str,
        created_timestamp_column: str | None = None,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
    ) -> RetrievalJob:
        def compute() -> pa.Table:
            return FederatedOfflineStore._pull(
                config,
                data_source,
                join_key_columns,
                feature_name_columns,
                timestamp_field,
                created_timestamp_column,
                start_date,
                end_date,
            )

        return FederatedRetrievalJob(compute)

    @staticmethod
    def offline_write_batch(
        config: RepoConfig,
        feature_view: FeatureView,
        table: pa.Table,
        progress: Callable[[int], Any] | None,
    ) -> None:
        """Pushed rows, appended through the view's bound connector (see ``offline.write``)."""
        from potluck.offline.write import offline_write_batch

        offline_write_batch(config, feature_view, table, progress)
