"""Options of the JSON-lines document connector.

Validated by pydantic so a typo in a profile fails at start-up with a
:class:`~potluck.errors.ConfigurationError` instead of at the first read.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["JsonlConfig"]


class JsonlConfig(BaseModel):
    """The directory holding ``{table}.jsonl`` documents and ``{table}.schema.json`` sidecars."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    root: Path = Field(description="Directory of the collections; created on first write.")
