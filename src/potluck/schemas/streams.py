"""Bodies of the stream producer and push endpoints."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from potluck.schemas.common import StrictModel

__all__ = ["PushIn", "PushOut", "StreamEventsIn", "StreamEventsOut"]


class StreamEventsIn(StrictModel):
    events: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=10_000,
        description="events: the source's columns by name (times as ISO 8601 text)",
    )
    event_ids: list[str | None] | None = Field(
        default=None,
        description="producer ids, one per event: an event sent twice with one id counts once",
    )


class StreamEventsOut(BaseModel):
    source: str
    accepted: int
    ids: list[str] = Field(description="the entries' ids in the log")


class PushIn(StrictModel):
    rows: list[dict[str, Any]] = Field(min_length=1, max_length=100_000)
    to: Literal["online", "offline", "online_and_offline"] = "online_and_offline"


class PushOut(BaseModel):
    push_source: str
    feature_views: list[str]
    rows: int
    to: str
