"""Training requests, registered models and promotion."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from potluck.schemas.common import (
    AliasName,
    FeatureRef,
    Identifier,
    ModelName,
    StrictModel,
    exactly_one,
    refuse_nulls,
    schema_rules,
)

__all__ = [
    "HyperparametersCreate",
    "LabelCreate",
    "ModelPublic",
    "ModelSummaryPublic",
    "ModelVersionPublic",
    "PromoteCreate",
    "PromotionPublic",
    "TimeRange",
    "TrainingCreate",
    "TrainingPublic",
]


class LabelCreate(StrictModel):
    """Where labels come from; its rows (key, time, label) are also the entity frame. The
    key and time columns are the source's declared ones (the deployment's data contract)."""

    source: Identifier = Field(description="a logical source of the deployment")
    column: Identifier = Field(description="the label column")


class TimeRange(StrictModel):
    start: datetime | None = None
    end: datetime | None = None

    @model_validator(mode="after")
    def _ordered(self) -> TimeRange:
        if self.start and self.end and _utc(self.start) > _utc(self.end):
            raise ValueError("time_range.start must not be after time_range.end")
        return self


def _utc(value: datetime) -> datetime:
    from datetime import UTC

    return value if value.tzinfo else value.replace(tzinfo=UTC)


class HyperparametersCreate(StrictModel):
    n_estimators: int = Field(default=300, ge=1, le=2000)
    max_depth: int | None = Field(default=None, ge=2, le=16)
    learning_rate: float = Field(default=0.05, gt=0, le=1)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)


class TrainingCreate(StrictModel):
    """Train and register a model; exactly one of ``feature_service`` and ``features``."""

    model_config = ConfigDict(
        json_schema_extra=schema_rules(
            exactly_one("feature_service", "features"), ("feature_service", "features")
        )
    )

    name: ModelName
    framework: Literal["sklearn", "xgboost", "lightgbm"] = "sklearn"
    split: Literal["time", "random", "stratified"] = "time"
    model_type: Literal["classification", "regression"] = "classification"
    feature_service: Identifier | None = None
    features: list[FeatureRef] | None = Field(default=None, min_length=1, max_length=500)
    label: LabelCreate
    time_range: TimeRange | None = None
    test_fraction: float = Field(default=0.25, ge=0.05, le=0.5)
    hyperparameters: HyperparametersCreate = Field(default_factory=HyperparametersCreate)

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        return refuse_nulls(data, ("feature_service", "features"))

    @model_validator(mode="after")
    def _one_feature_set(self) -> TrainingCreate:
        if (self.feature_service is None) == (self.features is None):
            raise ValueError("give exactly one of 'feature_service' and 'features'")
        return self


class TrainingPublic(BaseModel):
    job_id: str
    state: str
    status_url: str


class ModelSummaryPublic(BaseModel):
    name: str
    description: str
    latest_version: int
    versions: int
    aliases: dict[str, int]


class ModelVersionPublic(BaseModel):
    version: int
    run_id: str
    created_at: int = Field(description="ms since the epoch")
    aliases: list[str]
    metrics: dict[str, float]
    params: dict[str, str]
    lineage: dict[str, Any] = Field(
        description="feature service / refs, features, label, training-set fingerprint and rows"
    )


class ModelPublic(BaseModel):
    name: str
    aliases: dict[str, int]
    versions: list[ModelVersionPublic]


class PromoteCreate(StrictModel):
    alias: AliasName = "production"


class PromotionPublic(BaseModel):
    name: str
    version: int
    alias: str
