"""The seed lakehouse platform's request and response shapes (the ``/feast`` router).

Field names, defaults and enums are the seed's, so its clients' bodies validate as
they are; everything is then mapped onto potluck's own schemas by
:mod:`potluck.services.lakehouse_compat`, which checks what the seed did not (a
table, column or dtype that does not exist or match is a 422 naming each problem).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from potluck.schemas.common import Identifier

__all__ = [
    "SEED_DTYPES",
    "BatchPredictionRequest",
    "DataSourceConfig",
    "FeatureDefinition",
    "FeatureServiceRequest",
    "FeatureSetResponse",
    "FeatureStoreStatus",
    "FeatureViewInfo",
    "FeatureViewRequest",
    "ModelInfo",
    "ModelTrainingRequest",
    "ModelTrainingResponse",
    "OnlinePredictionRequest",
    "PredictionResponse",
    "TrainingDataConfig",
]

SeedDtype = Literal[
    "int32", "int64", "float32", "float64", "string", "bytes", "bool", "unix_timestamp",
    "array_int32", "array_int64", "array_float32", "array_float64", "array_string",
]  # fmt: skip
SEED_DTYPES: tuple[str, ...] = SeedDtype.__args__  # type: ignore[attr-defined]
Text = str
_Tags = dict[str, str]


class _Request(BaseModel):
    # The seed's models ignore unknown fields; ours refuse them (a typo is a 422, not a no-op).
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class FeatureDefinition(_Request):
    name: Identifier
    dtype: SeedDtype
    description: Text | None = Field(default=None, max_length=2000)
    tags: _Tags = Field(default_factory=dict, max_length=20)


class DataSourceConfig(_Request):
    table_name: Identifier = Field(description="a table of the catalog schema")
    timestamp_field: Identifier | None = Field(
        default=None, description="default: the declared source's timestamp"
    )
    created_timestamp_column: Identifier | None = None
    catalog: Identifier = "iceberg"
    schema_name: Identifier = Field(default="gold", alias="schema")


class FeatureViewRequest(_Request):
    name: Identifier
    entities: list[Identifier] = Field(min_length=1, max_length=5, description="names or keys")
    features: list[FeatureDefinition] = Field(min_length=1, max_length=200)
    source: DataSourceConfig
    ttl_seconds: int | None = Field(default=86400, gt=0, le=3650 * 86400)
    description: Text | None = Field(default=None, max_length=2000)
    tags: _Tags = Field(default_factory=dict, max_length=20)
    online: bool = False


class FeatureSetResponse(BaseModel):
    name: str
    entities: list[str]
    features: list[str]
    source_table: str
    online_enabled: bool
    created_at: datetime
    status: str
    message: str | None = None


class FeatureServiceRequest(_Request):
    name: Identifier
    feature_views: list[Identifier] = Field(min_length=1, max_length=50)
    description: Text | None = Field(default=None, max_length=2000)
    tags: _Tags = Field(default_factory=dict, max_length=20)


class FeatureViewInfo(BaseModel):
    name: str
    entities: list[str]
    features: list[dict[str, str]]
    online_enabled: bool
    ttl_seconds: int
    created_at: datetime | None


class FeatureStoreStatus(BaseModel):
    registry_type: str
    online_store_type: str
    offline_store_type: str
    num_feature_views: int
    num_entities: int
    num_feature_services: int
    feature_views: list[str]
    entities: list[str]


class TrainingDataConfig(_Request):
    feature_service: Identifier | None = None
    feature_views: list[Identifier] | None = Field(default=None, min_length=1, max_length=50)
    entity_df_source: Identifier | None = Field(
        default=None, description="a source, or the entity's name / plural ('customers')"
    )
    label_column: Identifier
    event_timestamp_column: Identifier
    start_date: datetime
    end_date: datetime


class HyperParameters(_Request):
    params: dict[str, float | int | str | bool | None] = Field(default_factory=dict, max_length=50)


class ModelTrainingRequest(_Request):
    name: str = Field(pattern=r"^[a-zA-Z][a-zA-Z0-9_]{0,63}$")
    framework: Literal["sklearn", "xgboost", "lightgbm", "tensorflow", "pytorch", "prophet"]
    model_type: Literal["classification", "regression", "clustering", "time_series", "ranking"]
    training_data: TrainingDataConfig
    hyperparameters: HyperParameters = Field(default_factory=HyperParameters)
    description: Text | None = Field(default=None, max_length=2000)
    tags: _Tags = Field(default_factory=dict, max_length=20)
    test_size: float = Field(default=0.2, ge=0.0, le=0.5)
    random_state: int = Field(default=42, ge=0, le=2**31 - 1)
    auto_tune: bool = False


class ModelTrainingResponse(BaseModel):
    model_id: str = Field(description="name:version")
    name: str
    version: str
    framework: str
    model_type: str
    status: str
    metrics: dict[str, dict[str, float]] | None = None
    artifact_uri: str | None = None
    training_duration_seconds: float | None = None
    created_at: datetime
    created_by: str | None = None
    error_message: str | None = None


class ModelInfo(BaseModel):
    model_id: str
    name: str
    version: str
    framework: str
    model_type: str
    status: str
    created_at: datetime
    metrics: dict[str, float] | None = None


class OnlinePredictionRequest(_Request):
    model_id: str = Field(min_length=1, max_length=80, description="name, or name:version")
    features: dict[str, Any] = Field(min_length=1, max_length=500)
    include_feature_values: bool = False


class BatchPredictionRequest(_Request):
    model_id: str = Field(min_length=1, max_length=80)
    input_table: Identifier = Field(description="a source of the deployment (its key and time)")
    entity_columns: list[Identifier] = Field(min_length=1, max_length=5)
    feature_service: Identifier | None = None
    feature_views: list[Identifier] | None = None
    output_table: Identifier
    output_schema: Identifier = "gold"
    prediction_column_name: Identifier = "prediction"
    event_timestamp_column: Identifier | None = None


class PredictionResponse(BaseModel):
    prediction_id: str
    model_id: str
    model_version: str
    mode: Literal["online", "batch"]
    prediction: float | None = None
    probabilities: dict[str, float] | None = None
    features_used: dict[str, Any] | None = None
    output_table: str | None = None
    num_predictions: int | None = None
    created_at: datetime
    execution_time_seconds: float | None = None
    status: str
    error_message: str | None = None
