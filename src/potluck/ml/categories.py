"""High-cardinality categoricals: the rare values of a feature folded into one category.

A categorical feature with more than :data:`MAX_CATEGORIES` distinct values keeps its
``MAX_CATEGORIES - 1`` most frequent training values; every other value (rare in
training, or never seen) becomes :data:`OTHER` before encoding. The model's encoder then
knows ``OTHER`` as a category, which is how serving recognizes a folded feature: the
scorer maps any value the encoder does not know to ``OTHER``'s code for that feature,
exactly as training did. A feature whose kept values would cover less than
:data:`MIN_COVERAGE` of the rows (an identifier, a free-text field) is refused with a
:class:`~potluck.errors.ModelError` instead: folding it would leave one big "other".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from potluck.errors import ModelError

__all__ = ["MAX_CATEGORIES", "MIN_COVERAGE", "OTHER", "fold", "folded_features", "plan_folds"]

OTHER = "__other__"
# scikit-learn's HistGradientBoosting takes at most 255 categories a feature; fewer keeps
# trees small and rare values from being learned from a handful of rows.
MAX_CATEGORIES = 100
MIN_COVERAGE = 0.5


def plan_folds(x: pd.DataFrame, categorical: Sequence[str], rows: pd.Index) -> dict[str, list[Any]]:
    """The values kept per feature that needs folding (by frequency in ``rows``, ties by
    value); ModelError when a feature has too many values to fold sensibly."""
    plan: dict[str, list[Any]] = {}
    for name in categorical:
        counts = x.loc[rows, name].dropna().value_counts()
        if len(counts) <= MAX_CATEGORIES:
            continue
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
        kept = [value for value, _ in ranked[: MAX_CATEGORIES - 1]]
        covered = sum(n for _, n in ranked[: MAX_CATEGORIES - 1]) / max(1, int(counts.sum()))
        if covered < MIN_COVERAGE:
            raise ModelError(
                f"categorical feature '{name}' has {len(counts)} distinct values in "
                f"{int(counts.sum())} rows, more than the model supports: its "
                f"{MAX_CATEGORIES - 1} most frequent cover only {covered:.0%} of the rows, so "
                f"folding the rest into '{OTHER}' would lose it (an identifier or free text?); "
                "drop it from the features or bucket it into fewer values"
            )
        plan[name] = kept
    return plan


def fold(x: pd.DataFrame, kept: Mapping[str, Iterable[Any]]) -> pd.DataFrame:
    """``x`` with each folded feature's values outside ``kept`` (nulls stay) as OTHER."""
    if not kept:
        return x
    out = x.copy()
    for name, values in kept.items():
        if name not in out.columns:
            continue
        column = out[name]
        keep = column.isin(list(values)) | column.isna()
        out[name] = column.where(keep, OTHER)
    return out


def folded_features(categories: Mapping[str, Sequence[Any]]) -> dict[str, list[Any]]:
    """Of an encoder's categories per feature: the folded features and their known values."""
    return {name: list(values) for name, values in categories.items() if OTHER in list(values)}


def describe(plan: Mapping[str, Sequence[Any]], x: pd.DataFrame) -> str:
    """``name:kept/distinct`` per folded feature, for the model's params."""
    parts = [f"{n}:{len(v)}/{x[n].nunique(dropna=True)}" for n, v in plan.items()]
    return ",".join(parts)[:500]
