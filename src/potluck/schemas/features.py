"""Feature views and feature services."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from potluck.schemas.common import (
    FeatureRef,
    Identifier,
    StrictModel,
    TagKey,
    TagValue,
    Text,
)

__all__ = [
    "DTYPES",
    "Dtype",
    "FeatureServiceCreate",
    "FeatureServicePublic",
    "FeatureViewCreate",
    "FeatureViewPublic",
    "FieldCreate",
    "FieldPublic",
]

Dtype = Literal["string", "int64", "int32", "float64", "float32", "bool", "unix_timestamp"]
DTYPES: tuple[str, ...] = Dtype.__args__  # type: ignore[attr-defined]
TEN_YEARS = 3650 * 86400


class FieldCreate(StrictModel):
    name: Identifier
    dtype: Dtype
    description: Text = ""
    tags: dict[TagKey, TagValue] = Field(default_factory=dict, max_length=20)


class FeatureViewCreate(StrictModel):
    """A feature view over a logical source declared in the active profile."""

    name: Identifier
    entities: list[Identifier] = Field(min_length=1, max_length=5)
    fields: list[FieldCreate] = Field(min_length=1, max_length=200)
    source: Identifier = Field(description="a logical source of the profile")
    table: Identifier | None = Field(
        default=None, description="table in the source; default: source"
    )
    timestamp_field: Identifier
    ttl_seconds: int = Field(default=0, ge=0, le=TEN_YEARS, description="0: no TTL")
    online: bool = True
    description: Text = ""
    owner: Text = ""
    tags: dict[TagKey, TagValue] = Field(default_factory=dict, max_length=20)


class FieldPublic(StrictModel):
    name: str
    dtype: str
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)


class FeatureViewPublic(StrictModel):
    name: str
    kind: Literal["batch", "on_demand"]
    entities: list[str]
    fields: list[FieldPublic] = Field(description="PII-tagged fields are never listed")
    pii_fields_hidden: int
    source: str | None
    ttl_seconds: int | None
    online: bool
    description: str
    owner: str
    tags: dict[str, str]


class FeatureServiceCreate(StrictModel):
    name: Identifier
    features: list[FeatureRef] = Field(
        min_length=1, max_length=500, description="view:feature refs"
    )
    description: Text = ""
    owner: Text = ""
    tags: dict[TagKey, TagValue] = Field(default_factory=dict, max_length=20)


class FeatureServicePublic(StrictModel):
    name: str
    features: list[str]
    description: str
    owner: str
    tags: dict[str, str]
