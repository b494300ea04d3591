"""Conforming a user's table to a source's declared schema: convert what is safe, refuse the
rest with every problem listed (column, rows, values) before anything is written.

Safe conversions: text that spells a number or time (CSV); naive timestamps taken as UTC
and zoned ones converted to UTC; nanosecond timestamps to microseconds; dates to
midnight UTC; missing-value tokens (``""``, ``N/A``, ``NA``, ``null``, ``None``, ``nan``,
``-``) to null; integer-valued floats to integers; 0/1 and true/false to booleans;
numbers to text for a text column. Everything else is refused.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["MISSING_TOKENS", "ConformError", "conform"]

MISSING_TOKENS = frozenset({"", "n/a", "na", "null", "none", "nan", "-", "#n/a", "?"})
TS = pa.timestamp("us", tz="UTC")
# A comma is only read as a thousands separator ("1,234.5"); "22,5" (a decimal comma) or
# "1,23" is ambiguous and refused rather than guessed.
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$")
_SHOW = 3  # offending rows shown per column


class ConformError(ValueError):
    """Every reason a table does not fit the declared schema."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


def _rows(mask: np.ndarray, values: Sequence[object]) -> str:
    bad = np.flatnonzero(mask)
    shown = ", ".join(f"row {i + 1} ({values[i]!r})" for i in bad[:_SHOW])
    more = f" and {len(bad) - _SHOW} more" if len(bad) > _SHOW else ""
    return f"{shown}{more}"


def _as_text(column: pa.ChunkedArray) -> tuple[list[object], np.ndarray]:
    """Python values and a mask of missing ones (null or a missing-value token)."""
    values = column.to_pylist()
    missing = np.array(
        [v is None or (isinstance(v, str) and v.strip().lower() in MISSING_TOKENS) for v in values],
        dtype=bool,
    )
    return values, missing


def _number(value: object) -> float:
    """One number written as text; ValueError if it is not one (or is ambiguous)."""
    if isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    if "," in text:
        if not _THOUSANDS.match(text):
            raise ValueError(text)
        text = text.replace(",", "")
    return float(text)


def _numbers(
    name: str, column: pa.ChunkedArray, kind: pa.DataType, problems: list[str]
) -> pa.Array | None:
    if pa.types.is_boolean(column.type):
        column = pc.cast(column, pa.int64())
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        floats = column.to_numpy(zero_copy_only=False).astype("float64")
        missing = (
            np.isnan(floats)
            if pa.types.is_floating(column.type)
            else ~pc.is_valid(column).to_numpy(zero_copy_only=False)
        )
        values: list[object] = column.to_pylist()
    else:
        values, missing = _as_text(column)
        floats = np.full(len(values), np.nan)
        unreadable = np.zeros(len(values), dtype=bool)
        for i, v in enumerate(values):
            if missing[i]:
                continue
            try:
                floats[i] = _number(v)
            except ValueError:
                unreadable[i] = True
        if unreadable.any():
            problems.append(f"column '{name}': not a number at {_rows(unreadable, values)}")
            return None
    finite = np.isfinite(floats) | missing
    if not finite.all():
        problems.append(f"column '{name}': infinite value at {_rows(~finite, values)}")
        return None
    if pa.types.is_integer(kind):
        whole = missing | (np.floor(floats) == floats)
        if not whole.all():
            problems.append(
                f"column '{name}' holds integers; fractional value at {_rows(~whole, values)}"
            )
            return None
        big = ~missing & (np.abs(floats) > 2**53)
        if big.any():
            problems.append(f"column '{name}': integer too large at {_rows(big, values)}")
            return None
        ints = np.where(missing, 0, floats).astype(np.int64)
        return pa.array(ints, kind, mask=missing)
    return pa.array(np.where(missing, 0.0, floats), kind, mask=missing)


def _timestamps(name: str, column: pa.ChunkedArray, problems: list[str]) -> pa.Array | None:
    if pa.types.is_timestamp(column.type):
        tz = column.type.tz
        array = column.combine_chunks()
        if tz is None:
            array = pc.assume_timezone(array, "UTC")
        return pc.cast(array, TS, safe=False)  # ns -> us, any zone -> UTC
    if pa.types.is_date(column.type):
        return pc.assume_timezone(pc.cast(column.combine_chunks(), pa.timestamp("us")), "UTC")
    values, missing = _as_text(column)
    text = pd.Series(
        [None if m else str(v).strip() for v, m in zip(values, missing, strict=True)], dtype=object
    )
    parsed = pd.to_datetime(text, errors="coerce", utc=True, format="mixed")
    unreadable = parsed.isna().to_numpy() & ~missing
    if unreadable.any():
        problems.append(f"column '{name}': not a time at {_rows(unreadable, values)}")
        return None
    stamps = [None if pd.isna(t) else t.to_pydatetime() for t in parsed]
    return pa.array(stamps, TS)


def _text(name: str, column: pa.ChunkedArray, problems: list[str]) -> pa.Array | None:
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        values, missing = _as_text(column)
        return pa.array(
            [None if m else str(v) for v, m in zip(values, missing, strict=True)], pa.string()
        )
    if pa.types.is_floating(column.type):
        floats = column.to_numpy(zero_copy_only=False)
        whole = np.isnan(floats) | (np.floor(floats) == floats)
        text = [
            None if np.isnan(f) else (str(int(f)) if w else repr(float(f)))
            for f, w in zip(floats, whole, strict=True)
        ]
        return pa.array(text, pa.string())
    try:
        return pc.cast(column.combine_chunks(), pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        problems.append(f"column '{name}': {column.type} cannot become text")
        return None


def _booleans(name: str, column: pa.ChunkedArray, problems: list[str]) -> pa.Array | None:
    if pa.types.is_boolean(column.type):
        return column.combine_chunks()
    values, missing = _as_text(column)
    truth = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
    out: list[bool | None] = []
    bad = np.zeros(len(values), dtype=bool)
    for i, v in enumerate(values):
        if missing[i]:
            out.append(None)
            continue
        key = str(int(v) if isinstance(v, float) and v.is_integer() else v).strip().lower()
        if key not in truth:
            bad[i] = True
            out.append(None)
        else:
            out.append(truth[key])
    if bad.any():
        problems.append(f"column '{name}': not true/false at {_rows(bad, values)}")
        return None
    return pa.array(out, pa.bool_())


def _convert(
    name: str, column: pa.ChunkedArray, kind: pa.DataType, problems: list[str]
) -> pa.Array | None:
    if pa.types.is_null(column.type):
        return pa.nulls(len(column), kind)
    if pa.types.is_timestamp(kind):
        return _timestamps(name, column, problems)
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        return _numbers(name, column, kind, problems)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return _text(name, column, problems)
    if pa.types.is_boolean(kind):
        return _booleans(name, column, problems)
    try:
        return pc.cast(column.combine_chunks(), kind)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        problems.append(f"column '{name}': cannot convert {column.type} to {kind}: {exc}")
        return None


def conform(
    table: pa.Table,
    schema: pa.Schema,
    *,
    timestamp_field: str | None = None,
    stamp: datetime | None = None,
    required: Sequence[str] = (),
) -> pa.Table:
    """``table`` with exactly ``schema``'s columns and types, or :class:`ConformError`.

    ``stamp``: the file has no ``timestamp_field`` column; every row gets this time.
    ``required``: columns that may not hold nulls (the entity keys, the timestamp).
    """
    problems: list[str] = []
    have = set(table.column_names)
    dupes = sorted({c for c in table.column_names if table.column_names.count(c) > 1})
    if dupes:
        raise ConformError([f"duplicate column name(s): {', '.join(dupes)}"])
    extra = [c for c in table.column_names if c not in schema.names]
    if extra:
        problems.append(f"extra column(s) not in the source's schema: {', '.join(extra)}")
    missing = [f.name for f in schema if f.name not in have]
    if stamp is not None and timestamp_field in missing:
        missing.remove(timestamp_field)
    elif stamp is not None:
        problems.append(f"--time given, but the file has a '{timestamp_field}' column")
    if missing:
        problems.append(f"missing column(s): {', '.join(missing)}")
    arrays = []
    for field in schema:
        if field.name not in have:
            if stamp is not None and field.name == timestamp_field:
                arrays.append(pa.array([stamp] * table.num_rows, TS))
            else:
                arrays.append(None)
            continue
        arrays.append(_convert(field.name, table.column(field.name), field.type, problems))
    for field, array in zip(schema, arrays, strict=True):
        if array is not None and field.name in required and array.null_count:
            empty = ~pc.is_valid(array).to_numpy(zero_copy_only=False)
            rows = ", ".join(str(i + 1) for i in np.flatnonzero(empty)[:_SHOW])
            problems.append(
                f"column '{field.name}' may not be empty: {array.null_count} row(s), e.g. row {rows}"
            )
    if problems:
        raise ConformError(problems)
    return pa.Table.from_arrays(arrays, schema=schema)
