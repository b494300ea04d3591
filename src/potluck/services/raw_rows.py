"""Raw-value rows for online predictions, checked against the model's feature schema.

A categorical feature takes a string the model learned (or ``null``: unknown, scored
as missing); a numeric feature takes a finite JSON number (booleans are not numbers)
whose magnitude is below :data:`MAX_ABS`. Every problem of every row is listed in one
:class:`~potluck.errors.InvalidInputError` (422), nothing is scored or echoed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from potluck.errors import InvalidInputError

if TYPE_CHECKING:
    from potluck.ml.scoring import Scorer

__all__ = ["MAX_ABS", "check_rows"]

MAX_ABS = 1e9  # no feature of a tabular model is a billion; 1e30 is an attack or a bug
MAX_PROBLEMS = 50


def _problem(name: str, value: Any, categories: list[Any] | None, categorical: bool) -> str:
    if value is None:
        return ""
    if categorical:
        if not isinstance(value, str):
            return f"must be a category (a string) or null, got {type(value).__name__}"
        if categories is not None and value not in categories:
            shown = ", ".join(map(str, categories[:20]))
            return f"unknown category {value!r} (known: {shown}; null for unknown)"
        return ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"must be a number or null, got {type(value).__name__}"
    if isinstance(value, float) and not math.isfinite(value):
        return f"must be a finite number, got {value}"
    if abs(value) > MAX_ABS:
        return f"is out of range (|value| > {MAX_ABS:g})"
    return ""


def check_rows(scorer: Scorer, rows: Sequence[Mapping[str, Any]]) -> None:
    """Raise InvalidInputError listing every unknown feature and every bad value."""
    features = set(scorer.features)
    problems: list[str] = []
    for i, row in enumerate(rows):
        unknown = sorted(set(row) - features)
        if unknown:
            problems.append(
                f"rows[{i}]: unknown feature(s) for this model: {', '.join(unknown)} "
                f"(the model's features: {', '.join(scorer.features)})"
            )
        for name, value in row.items():
            if name not in features:
                continue
            categorical = name in scorer.categorical
            text = _problem(name, value, scorer.categories(name), categorical)
            if text:
                problems.append(f"rows[{i}].{name} {text}")
        if len(problems) >= MAX_PROBLEMS:
            problems.append("... (first problems only)")
            break
    if problems:
        raise InvalidInputError("rows", problems)
