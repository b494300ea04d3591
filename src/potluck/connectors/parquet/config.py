"""Options of the Parquet connector.

Validated by pydantic so a typo in a profile fails at start-up with a
:class:`~potluck.errors.ConfigurationError` instead of at the first read.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ParquetConfig"]


class ParquetConfig(BaseModel):
    """The directory holding one ``{table}.parquet`` file per table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    root: Path = Field(description="Directory of the tables; created on first write.")
