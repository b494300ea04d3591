"""Online feature reads over HTTP: a service (or refs) for entity rows with request data."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from potluck.schemas.common import FeatureRef, Identifier, Scalar, StrictModel

__all__ = ["ONLINE_MAX_ROWS", "OnlineFeaturesCreate", "OnlineFeaturesPublic"]

ONLINE_MAX_ROWS = 1000


class OnlineFeaturesCreate(StrictModel):
    """Exactly one of ``feature_service`` and ``features``; ``entity_rows`` as Feast takes
    them: each row its join keys plus any request data the on-demand views read, e.g.
    ``{"user_id": "user-123", "current_hour": 14, "day_of_week": 3, "is_weekend": 0}``."""

    feature_service: Identifier | None = None
    features: list[FeatureRef] | None = Field(default=None, min_length=1, max_length=500)
    entity_rows: list[dict[Identifier, Scalar]] = Field(min_length=1, max_length=ONLINE_MAX_ROWS)

    @model_validator(mode="after")
    def _one_choice(self) -> OnlineFeaturesCreate:
        if (self.feature_service is None) == (self.features is None):
            raise ValueError("give exactly one of 'feature_service' and 'features'")
        first = list(self.entity_rows[0])
        if not first or any(list(row) != first for row in self.entity_rows):
            raise ValueError("every entity row must give the same keys, in the same order")
        return self


class OnlineFeaturesPublic(StrictModel):
    """One row per entity row: its keys and request data, the features, and ``_status``
    (ok | partial | unknown_entity), ``_missing``, ``_expired`` as the read path reports."""

    feature_service: str | None
    features: list[str]
    rows: list[dict[str, Any]]
