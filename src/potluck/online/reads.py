"""Online reads through Feast, PII-free, with unknown entities reported per row."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from potluck.errors import RequestError

if TYPE_CHECKING:
    from potluck.features.repo import FeatureRepo

__all__ = ["online_features"]


def online_features(
    repo: FeatureRepo, features: str | Sequence[str], patient_ids: Sequence[str]
) -> list[dict[str, Any]]:
    """One dict per patient id: the feature values and ``_found`` (any view had a row)."""
    if not patient_ids:
        raise RequestError("no patient ids given")
    bad = [p for p in patient_ids if not isinstance(p, str) or not p]
    if bad:
        raise RequestError(f"patient ids must be non-empty strings: {bad[:5]}")
    resolved = repo.resolve(features)
    response = repo.store.get_online_features(
        features=resolved.feast_argument, entity_rows=[{"patient_id": p} for p in patient_ids]
    )
    columns = response.to_dict()
    names = [n for n in columns if n != "patient_id" and n not in resolved.pii]
    rows = []
    view_features = [n for n in names if n not in resolved.on_demand]
    for i, patient_id in enumerate(patient_ids):
        row: dict[str, Any] = {"patient_id": patient_id}
        row.update({n: columns[n][i] for n in names})
        row["_found"] = any(columns[n][i] is not None for n in view_features)
        rows.append(row)
    return rows
