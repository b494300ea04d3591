"""Options of the MongoDB connector.

Validated by pydantic so a typo in a profile fails at start-up with a
:class:`~potluck.errors.ConfigurationError` instead of at the first read.
Credentials belong in ``uri`` (``mongodb://user:password@host:27017/?authSource=admin``)
and come from settings or the environment, never from code.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["MongoConfig"]


class MongoConfig(BaseModel):
    """Which MongoDB database holds the collections, and how to reach it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    uri: str = Field(default="mongodb://127.0.0.1:27017", repr=False)
    database: str = Field(default="potluck", min_length=1)
    batch_size: int = Field(
        default=10_000, ge=1, description="Documents per insert_many and per cursor batch."
    )
    timeout_ms: int = Field(
        default=5_000,
        ge=1,
        description="Server selection timeout: how long an unreachable server may take to fail.",
    )
