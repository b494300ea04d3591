"""Options of the SQLite connector.

Validated by pydantic so a typo in a profile (an unknown option, a missing
path) fails at start-up with a :class:`~potluck.errors.ConfigurationError`
instead of at the first read.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["SqliteConfig"]


class SqliteConfig(BaseModel):
    """Where the SQLite database file lives."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Path = Field(description="The database file; created (with its folder) on first write.")

    @field_validator("path", mode="before")
    @classmethod
    def _not_in_memory(cls, value: object) -> object:
        # The connector opens one connection per call (cheap, thread-safe), so an
        # in-memory database would be empty again on every call.
        # (checked before coercion: Path("") would silently become ".")
        text = str(value) if isinstance(value, str | Path) else None
        if text is not None and (text in {":memory:", ""} or text.startswith("file::memory:")):
            raise ValueError(
                "an in-memory database cannot be shared between calls; give a file path"
            )
        return value
