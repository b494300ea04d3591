"""Plain-Python kernels of the healthcare on-demand views, for small online batches.

``request_time_features`` (a pandas UDF) costs milliseconds even for one row;
its kernel computes the same outputs in microseconds. The view names its kernel
in the ``potluck.kernel`` tag, and the online read path uses it only after it
agreed with the UDF, value for value, on :func:`_probe`'s edge cases (see
``potluck.online._odfv``).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from potluck.online._odfv import Columns, KernelSpec

__all__ = ["REQUEST_TIME_FEATURES"]


def _categories(values: list[Any], edges: Sequence[float], labels: Sequence[str]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if v is None or v != v:  # null or NaN
            out.append(None)
        else:
            out.append(labels[bisect.bisect_right(edges, float(v))])
    return out


def request_time_features(inputs: Columns, times: list[datetime] | None) -> Columns:
    """``features.request_time_features`` for few rows; ``times`` None means now."""
    from potluck.domains.healthcare.functions import BMI_CATEGORIES, GLUCOSE_CATEGORIES

    births = inputs["date_of_birth"]
    now = datetime.now(UTC)
    ages: list[Any] = []
    for i, born in enumerate(births):
        if born is None:
            ages.append(None)
            continue
        at = times[i] if times is not None else now
        before = (at.month, at.day) < (born.month, born.day)
        ages.append(at.year - born.year - int(before))
    return {
        "age": ages,
        "bmi_category": _categories(inputs["bmi"], (18.5, 25, 30), BMI_CATEGORIES),
        "glucose_category": _categories(
            inputs["avg_glucose_level"], (100, 126), GLUCOSE_CATEGORIES
        ),
    }


def _probe() -> tuple[Columns, list[datetime]]:
    """Edge cases of the inputs (nulls, category thresholds, birthdays around the
    evaluation time, 29 February), evaluated at fixed times."""
    births = [
        datetime(1950, 6, 15, tzinfo=UTC),
        datetime(1980, 2, 29, tzinfo=UTC),
        datetime(2000, 1, 1, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC),
        None,
    ]
    times = [
        datetime(2026, 6, 14, 23, tzinfo=UTC),
        datetime(2026, 6, 15, tzinfo=UTC),
        datetime(2027, 2, 28, tzinfo=UTC),
        datetime(2027, 3, 1, tzinfo=UTC),
        datetime(2028, 2, 29, tzinfo=UTC),
        datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC),
    ]
    numbers = [None, 0.0, 18.4, 18.5, 24.99, 25.0, 29.9, 30.0, 99.99, 100.0, 125.9, 126.0, 300.5]
    n = len(births) * len(times)
    rows = [(b, t) for b in births for t in times]
    columns: Columns = {
        "date_of_birth": [b for b, _ in rows],
        "bmi": [numbers[i % len(numbers)] for i in range(n)],
        "avg_glucose_level": [numbers[(i * 5 + 3) % len(numbers)] for i in range(n)],
    }
    return columns, [t for _, t in rows]


REQUEST_TIME_FEATURES = KernelSpec(
    inputs=frozenset({"date_of_birth", "bmi", "avg_glucose_level"}),
    compute=request_time_features,
    probe=_probe,
)
