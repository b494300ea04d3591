"""On-demand views over a retrieval result, each fed only the columns it may read.

Feast's ``RetrievalJob.to_arrow`` hands every on-demand view the *whole* result,
and a pandas view converts all of it to pandas: at 1M rows x 40 columns that
conversion costs more than the point-in-time join. A view may read the entity
frame's columns (keys, event time, request data) and the features of its source
views, under either name; it is given exactly those, and the rest of Feast's
rule -- which output columns are appended -- is kept as Feast has it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pyarrow as pa
from feast.on_demand_feature_view import OnDemandFeatureView

__all__ = ["apply_on_demand", "readable_columns"]


def readable_columns(view: OnDemandFeatureView, entity_columns: Iterable[str]) -> set[str]:
    """The columns ``view``'s transformation may read."""
    names = set(entity_columns)
    for projection in view.source_feature_view_projections.values():
        prefixes = {projection.name, projection.name_to_use()}
        for feature in projection.features:
            names.add(feature.name)
            names.update(f"{prefix}__{feature.name}" for prefix in prefixes)
    for request in view.source_request_sources.values():
        names.update(field.name for field in request.schema)
    return names


def _requested(
    views: Sequence[OnDemandFeatureView], feature_refs: Sequence[str], full_names: bool
) -> dict[str, set[str]]:
    """Output columns asked for, per on-demand view name (Feast's rule in ``to_arrow``)."""
    out: dict[str, set[str]] = {}
    for ref in feature_refs:
        if ":" not in ref:
            continue
        view_name, feature = ref.split(":", 1)
        for view in views:
            if view_name in (view.name, view.projection.name_to_use()):
                column = f"{view.projection.name_to_use()}__{feature}" if full_names else feature
                out.setdefault(view_name, set()).add(column)
    return out


def apply_on_demand(
    table: pa.Table,
    views: Sequence[OnDemandFeatureView],
    feature_refs: Sequence[str] | None,
    full_names: bool,
    entity_columns: Sequence[str],
) -> pa.Table:
    """``table`` with each view's requested outputs appended, as Feast appends them."""
    requested = _requested(views, feature_refs, full_names) if feature_refs else {}
    for view in views:
        readable = readable_columns(view, entity_columns)
        inputs = table.select([c for c in table.column_names if c in readable])
        transformed = view.transform_arrow(inputs, full_names)
        wanted = requested.get(view.name, requested.get(view.projection.name_to_use()))
        for column in transformed.column_names:
            if column.startswith("__index"):
                continue
            if wanted is None or column in wanted:
                table = table.append_column(column, transformed[column])
    return table
