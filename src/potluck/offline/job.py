"""The retrieval job the federated store hands back to Feast."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import pyarrow as pa
from feast.infra.offline_stores.offline_store import RetrievalJob, RetrievalMetadata
from feast.on_demand_feature_view import OnDemandFeatureView

__all__ = ["FederatedRetrievalJob", "arrow_to_pandas"]

_NULLABLE = {
    pa.int8(): pd.Int8Dtype(),
    pa.int16(): pd.Int16Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
}


def arrow_to_pandas(table: pa.Table) -> pd.DataFrame:
    """The one typing rule: integer and boolean features stay integer/boolean
    (pandas nullable dtypes) whether or not they hold nulls."""
    return table.to_pandas(types_mapper=_NULLABLE.get).reset_index(drop=True)


class FederatedRetrievalJob(RetrievalJob):
    """Lazily runs ``compute``; ``to_df`` applies the nullable integer rule."""

    def __init__(
        self,
        compute: Callable[[], pa.Table],
        full_feature_names: bool = False,
        on_demand_feature_views: list[OnDemandFeatureView] | None = None,
        metadata: RetrievalMetadata | None = None,
        entity_columns: list[str] | None = None,
    ) -> None:
        self._compute = compute
        self._full_feature_names = full_feature_names
        self._odfvs = on_demand_feature_views or []
        self._metadata = metadata
        self._entity_columns = entity_columns

    @property
    def full_feature_names(self) -> bool:
        return self._full_feature_names

    @property
    def on_demand_feature_views(self) -> list[OnDemandFeatureView]:
        return self._odfvs

    @property
    def metadata(self) -> RetrievalMetadata | None:
        return self._metadata

    def _to_arrow_internal(self, timeout: int | None = None) -> pa.Table:
        return self._compute()

    def to_arrow(self, validation_reference: Any = None, timeout: int | None = None) -> pa.Table:
        """Feast's ``to_arrow``, except that each on-demand view is fed only the columns it
        may read (see :mod:`potluck.offline.on_demand`), not the whole result."""
        if not self._odfvs or self._entity_columns is None or validation_reference is not None:
            return super().to_arrow(validation_reference=validation_reference, timeout=timeout)
        from potluck.offline.on_demand import apply_on_demand

        views, self._odfvs = self._odfvs, []  # Feast's own pass then skips them
        try:
            table = super().to_arrow(timeout=timeout)
        finally:
            self._odfvs = views
        refs = self._metadata.features if self._metadata is not None else None
        return apply_on_demand(table, views, refs, self._full_feature_names, self._entity_columns)

    def _to_df_internal(self, timeout: int | None = None) -> pd.DataFrame:
        return arrow_to_pandas(self._compute())

    def to_df(
        self, validation_reference: object = None, timeout: int | None = None
    ) -> pd.DataFrame:
        return arrow_to_pandas(
            self.to_arrow(validation_reference=validation_reference, timeout=timeout)
        )

    def persist(
        self, storage: object, allow_overwrite: bool = False, timeout: int | None = None
    ) -> None:
        raise NotImplementedError(
            "persisting saved datasets is not supported by the federated store"
        )
