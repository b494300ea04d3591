"""Feast's online-serving protocol (``feast serve``'s ``POST /get-online-features``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from potluck.schemas.common import FeatureRef, Identifier

__all__ = [
    "STATUSES",
    "FeastFeatureVector",
    "FeastMetadata",
    "FeastOnlineRequest",
    "FeastOnlineResponse",
    "FeastStatus",
]

FeastStatus = Literal["PRESENT", "NOT_FOUND", "OUTSIDE_MAX_AGE"]
STATUSES: tuple[str, ...] = FeastStatus.__args__  # type: ignore[attr-defined]
EntityValue = str | int
MAX_ROWS = 10_000
EntityColumn = Annotated[list[EntityValue], Field(min_length=1, max_length=MAX_ROWS)]


class FeastOnlineRequest(BaseModel):
    """Feast's request. Fields Feast added for vector search (``query_embedding``, ...) are
    accepted and ignored, so a client written for ``feast serve`` needs no change."""

    model_config = ConfigDict(extra="ignore")

    features: list[FeatureRef] = Field(
        default_factory=list, max_length=500, description="view:feature refs"
    )
    feature_service: Identifier | None = Field(
        default=None, description="a feature service; wins over `features` when both are given"
    )
    entities: dict[Identifier, EntityColumn] = Field(
        min_length=1, max_length=5, description="join key -> values, one per entity row"
    )
    full_feature_names: bool = Field(default=False, description="names as view__feature")


class FeastMetadata(BaseModel):
    feature_names: list[str]


class FeastFeatureVector(BaseModel):
    """One output column: a value, a status and an event time (ISO, UTC) per entity row."""

    values: list[Any]
    statuses: list[FeastStatus]
    event_timestamps: list[str]


class FeastOnlineResponse(BaseModel):
    metadata: FeastMetadata
    results: list[FeastFeatureVector]
