"""Online and batch predictions."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from potluck.schemas.common import (
    AT_MOST_VERSION_OR_ALIAS,
    AliasName,
    EntityId,
    Identifier,
    ModelName,
    Scalar,
    StrictModel,
    exactly_one,
    refuse_nulls,
    schema_rules,
)

__all__ = [
    "INLINE_MAX_ROWS",
    "BatchPredictionCreate",
    "BatchPredictionPublic",
    "EntityRowCreate",
    "OnlinePredictionCreate",
    "OnlinePredictionPublic",
    "PredictionRowPublic",
    "SourceFrameCreate",
]

_NOT_NULL = (
    "model",
    "version",
    "alias",
    "entity_ids",
    "rows",
    "entities",
    "input_path",
    "source",
    "output_path",
)
ONLINE_MAX_ROWS = 1000
INLINE_MAX_ROWS = 10_000  # inline entity frames and inline answers


class _ModelChoice(StrictModel):
    model_config = ConfigDict(json_schema_extra=schema_rules(AT_MOST_VERSION_OR_ALIAS, _NOT_NULL))

    model: ModelName | None = Field(default=None, description="default: the settings' model_name")
    version: int | None = Field(
        default=None,
        ge=1,
        le=2**31 - 1,
        description="default: the version the alias (default: the serving alias) points at",
    )
    alias: AliasName | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        return refuse_nulls(data, _NOT_NULL)

    @model_validator(mode="after")
    def _version_or_alias(self) -> _ModelChoice:
        if self.version is not None and self.alias is not None:
            raise ValueError("give at most one of 'version' and 'alias'")
        return self


class OnlinePredictionCreate(_ModelChoice):
    """Exactly one of ``entity_ids`` (features from the online store) and ``rows`` (raw values).

    ``entity_ids`` are ids of the model's entity: plain ids for a single join key
    (integer keys may be given as numbers), ``"k1=v1,k2=v2"`` for a composite key."""

    model_config = ConfigDict(
        json_schema_extra=schema_rules(
            {**exactly_one("entity_ids", "rows"), "allOf": [AT_MOST_VERSION_OR_ALIAS]}, _NOT_NULL
        )
    )

    entity_ids: list[EntityId | int] | None = Field(
        default=None, min_length=1, max_length=ONLINE_MAX_ROWS
    )
    rows: list[dict[Identifier, Scalar]] | None = Field(
        default=None, min_length=1, max_length=ONLINE_MAX_ROWS
    )
    include_features: bool = True

    @model_validator(mode="after")
    def _one_input(self) -> OnlinePredictionCreate:
        if (self.entity_ids is None) == (self.rows is None):
            raise ValueError("give exactly one of 'entity_ids' and 'rows'")
        return self


class PredictionRowPublic(BaseModel):
    entity_id: str | int | None = None
    status: Literal["ok", "partial", "unknown_entity"] = Field(
        description="partial: some features were missing or expired (listed)"
    )
    missing: list[str] = Field(default_factory=list, description="features with no value")
    expired: list[str] = Field(
        default_factory=list, description="features older than their view's TTL (nulled)"
    )
    prediction: float | None = None
    probability: float | None = Field(default=None, description="positive class, classifiers only")
    features: dict[str, Any] | None = None


class OnlinePredictionPublic(BaseModel):
    model: str
    version: int = Field(description="the version that answered")
    alias: str | None = Field(default=None, description="the alias that chose it, if any")
    model_type: str
    predictions: list[PredictionRowPublic]


class EntityRowCreate(BaseModel):
    """An inline entity row: the model's join key(s) and ``event_timestamp``. Which keys is
    the deployment's entity (checked by the service); their values are ids or integers."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, EntityId | int] = Field(init=False)  # type: ignore[assignment]

    event_timestamp: datetime = Field(description="ISO-8601; without a zone it is UTC")


class SourceFrameCreate(StrictModel):
    """The entity frame of a logical source: its declared key(s) and timestamp, nothing else
    (which columns those are comes from the deployment's data contract, never the request)."""

    source: Identifier
    start: datetime | None = None
    end: datetime | None = None


class BatchPredictionCreate(_ModelChoice):
    """Exactly one entity frame: ``entities`` inline, ``input_path`` (Parquet/CSV in the
    batch folder) or ``source`` (a logical source's key and time columns)."""

    model_config = ConfigDict(
        json_schema_extra=schema_rules(
            {
                **exactly_one("entities", "input_path", "source"),
                "allOf": [AT_MOST_VERSION_OR_ALIAS],
            },
            _NOT_NULL,
        )
    )

    entities: list[EntityRowCreate] | None = Field(
        default=None,
        min_length=1,
        max_length=INLINE_MAX_ROWS,
        description="rows of the model's join key(s) and event_timestamp",
    )
    input_path: str | None = Field(
        default=None, max_length=512, description="relative to the batch folder, .parquet/.csv"
    )
    source: SourceFrameCreate | None = None
    output: Literal["auto", "inline", "parquet", "iceberg"] = Field(
        default="auto",
        description="auto: inline up to 1,000 rows, else Parquet; iceberg: a table of the "
        "deployment's prediction sink (a new snapshot)",
    )
    output_path: str | None = Field(
        default=None,
        max_length=512,
        description="relative, .parquet; a write key only (a read key's output is named by "
        "the server)",
    )
    output_table: Identifier | None = Field(
        default=None, description="iceberg output: the table (default <model>_predictions)"
    )
    output_namespace: Identifier | None = Field(
        default=None, description="iceberg output: the namespace (default: the sink's)"
    )
    output_mode: Literal["append", "replace"] = Field(
        default="append", description="iceberg output: append a snapshot or replace the table"
    )
    prediction_column: Identifier = Field(
        default="prediction", description="name of the prediction column in the output"
    )
    include_features: bool = False

    @model_validator(mode="after")
    def _one_frame(self) -> BatchPredictionCreate:
        given = [x for x in (self.entities, self.input_path, self.source) if x is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of 'entities', 'input_path' and 'source'")
        iceberg_only = (self.output_table, self.output_namespace)
        if self.output != "iceberg" and any(x is not None for x in iceberg_only):
            raise ValueError("output_table and output_namespace need output 'iceberg'")
        if self.prediction_column in ("probability", "event_timestamp"):
            raise ValueError(f"prediction_column cannot be '{self.prediction_column}'")
        if self.output == "iceberg" and self.output_path is not None:
            raise ValueError("output_path is for Parquet output, not 'iceberg'")
        return self


class BatchPredictionPublic(BaseModel):
    model: str
    version: int = Field(description="the version that answered")
    alias: str | None = Field(default=None, description="the alias that chose it, if any")
    model_type: str
    rows: int
    output: Literal["inline", "parquet", "iceberg"]
    output_path: str | None = Field(default=None, description="relative to the batch folder")
    output_table: str | None = Field(default=None, description="iceberg: namespace.table")
    snapshot_id: int | None = Field(default=None, description="iceberg: the snapshot written")
    predictions: list[dict[str, Any]] | None = None
    elapsed_ms: float
