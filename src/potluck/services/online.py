"""Online feature reads as a service: :func:`potluck.online.reads.online_features` for
entity rows (join keys plus request data), answered as JSON-safe values."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from potluck.online.reads import FOUND, online_features
from potluck.schemas.online import OnlineFeaturesCreate, OnlineFeaturesPublic

if TYPE_CHECKING:
    from potluck.features.repo import FeatureRepo

__all__ = ["read_online"]


def _json(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def read_online(repo: FeatureRepo, body: OnlineFeaturesCreate) -> OnlineFeaturesPublic:
    features: str | list[str] = body.feature_service or list(body.features or [])
    columns = {key: [row[key] for row in body.entity_rows] for key in body.entity_rows[0]}
    rows = online_features(repo, features, columns)
    given = set(columns)
    names = [n for n in rows[0] if n not in given and not n.startswith("_")] if rows else []
    return OnlineFeaturesPublic(
        feature_service=body.feature_service,
        features=names,
        rows=[{k: _json(v) for k, v in row.items() if k != FOUND} for row in rows],
    )
