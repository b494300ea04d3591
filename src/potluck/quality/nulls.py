"""Mostly-null features: the symptom of a TTL shorter than the data's cadence (or of a
source that was never loaded), caught where a user looks -- the training set."""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa

__all__ = ["MOSTLY_NULL", "mostly_null"]

MOSTLY_NULL = 0.5


def mostly_null(
    table: pa.Table, skip: Iterable[str] = (), threshold: float = MOSTLY_NULL
) -> list[str]:
    """One warning per feature column null in at least ``threshold`` of the rows."""
    skipped = {*skip, "event_timestamp"}
    rows = table.num_rows
    if rows == 0:
        return []
    out = []
    for name in table.column_names:
        if name in skipped:
            continue
        share = table[name].null_count / rows
        if share >= threshold:
            out.append(
                f"feature '{name}' is null in {share:.0%} of rows: its view's TTL may be "
                "shorter than the time between its events and the entity rows, or its "
                "source holds no rows for these keys"
            )
    return out
