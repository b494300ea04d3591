"""Validate and normalize the entity frame of a historical retrieval.

Rules (documented in the README):
- the timestamp column is ``event_timestamp`` if present, else the only
  datetime column; strings are parsed; timezone-naive values are taken as UTC;
- every join key the requested views need must be a column;
- null timestamps are refused (a row without a time has no point-in-time answer).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from potluck.errors import EntityFrameError

__all__ = ["DEFAULT_TIMESTAMP_COLUMN", "EntityFrame", "normalize_entity_frame"]

DEFAULT_TIMESTAMP_COLUMN = "event_timestamp"
UTC_US = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class EntityFrame:
    table: pa.Table
    timestamp_column: str

    @property
    def min_time(self) -> datetime:
        value: datetime = pc.min(self.table[self.timestamp_column]).as_py()
        return value

    @property
    def max_time(self) -> datetime:
        value: datetime = pc.max(self.table[self.timestamp_column]).as_py()
        return value


def _timestamp_column(frame: pd.DataFrame) -> str:
    if DEFAULT_TIMESTAMP_COLUMN in frame.columns:
        return DEFAULT_TIMESTAMP_COLUMN
    candidates = [c for c in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[c])]
    if len(candidates) == 1:
        return str(candidates[0])
    found = ", ".join(map(str, candidates)) or "none"
    raise EntityFrameError(
        f"entity frame needs a timestamp column named '{DEFAULT_TIMESTAMP_COLUMN}' "
        f"(datetime columns found: {found})"
    )


def _as_utc(series: pd.Series, column: str) -> pd.Series:
    if not pd.api.types.is_datetime64_any_dtype(series):
        try:
            series = pd.to_datetime(series, utc=True, format="ISO8601")
        except (ValueError, TypeError) as exc:
            raise EntityFrameError(
                f"entity frame column '{column}' is not a timestamp: {exc}"
            ) from None
    if getattr(series.dt, "tz", None) is None:
        series = series.dt.tz_localize("UTC")
    return series.dt.tz_convert("UTC")


def normalize_entity_frame(entity_df: object, join_keys: Iterable[str]) -> EntityFrame:
    """Return the entity frame as Arrow with a ``timestamp[us, UTC]`` time column."""
    if isinstance(entity_df, str):
        raise EntityFrameError(
            "the federated offline store takes the entity frame as a DataFrame, not SQL: "
            "its sources may live in different systems"
        )
    if entity_df is None:
        raise EntityFrameError(
            "an entity frame is required (start/end-only retrieval is not supported)"
        )
    if isinstance(entity_df, pa.Table):
        entity_df = entity_df.to_pandas()
    if not isinstance(entity_df, pd.DataFrame):
        raise EntityFrameError(
            f"entity frame must be a pandas DataFrame, got {type(entity_df).__name__}"
        )

    ts_col = _timestamp_column(entity_df)
    missing = sorted(set(join_keys) - set(map(str, entity_df.columns)))
    if missing:
        raise EntityFrameError(f"entity frame is missing join key column(s): {', '.join(missing)}")
    times = _as_utc(entity_df[ts_col], ts_col)
    nulls = int(times.isna().sum())
    if nulls:
        raise EntityFrameError(f"entity frame column '{ts_col}' has {nulls} null timestamp(s)")

    frame = entity_df.copy(deep=False)
    frame[ts_col] = times
    table = pa.Table.from_pandas(frame, preserve_index=False)
    index = table.schema.get_field_index(ts_col)
    table = table.set_column(index, ts_col, table[ts_col].cast(UTC_US, safe=False))
    return EntityFrame(table=table, timestamp_column=ts_col)
