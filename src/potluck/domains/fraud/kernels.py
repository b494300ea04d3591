"""Plain-Python kernels of the fraud on-demand views, for one card or session online.

``transaction_risk_5m`` and ``user_engagement_scores`` are pandas UDFs over numpy
formulas (:mod:`.functions`): a few milliseconds per call even for one row, most of
a fraud score's online latency. These kernels compute the same floats with the same
operations in the same order, per row, in microseconds. The views name them in their
``potluck.kernel`` tag; the online read path uses a kernel only after it agreed with
the UDF value for value on :func:`_risk_probe` / :func:`_engagement_probe` (nulls,
NaN, zero counts, every threshold), see ``potluck.online._odfv``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from potluck.online._odfv import Columns, KernelSpec

__all__ = ["ENGAGEMENT_INPUTS", "RISK_INPUTS", "TRANSACTION_RISK", "USER_ENGAGEMENT"]


RISK_INPUTS = (
    "txn_count_5m",
    "txn_count_30m",
    "amount_sum_5m",
    "unique_countries_5m",
    "high_risk_count_30m",
)
RISK_OUTPUTS = ("geo_diversity_score", "velocity_score", "high_risk_txn_ratio", "is_high_velocity")
ENGAGEMENT_INPUTS = (
    "pages_per_session",
    "avg_dwell_time_sec",
    "avg_scroll_depth",
    "events_5m",
    "cart_adds_session",
    "purchases_session",
)
ENGAGEMENT_OUTPUTS = (
    "click_rate_5m",
    "conversion_rate_session",
    "engagement_score",
    "is_likely_purchaser",
)


def _num(x: Any) -> float:
    """A float with null and NaN as 0 (``functions._num`` for one value)."""
    if x is None:
        return 0.0
    value = float(x)
    return 0.0 if value != value else value


def _rowwise(
    inputs: Columns,
    names: Sequence[str],
    row: Callable[..., tuple[Any, ...]],
    outputs: Sequence[str],
) -> Columns:
    """``row`` over the ``names`` columns, one call per row, back into output columns."""
    rows = [row(*values) for values in zip(*(inputs[n] for n in names), strict=True)]
    return {name: [r[i] for r in rows] for i, name in enumerate(outputs)}


def _risk(count5: Any, count30: Any, sum5: Any, countries5: Any, risky30: Any) -> tuple[Any, ...]:
    n5, n30 = _num(count5), _num(count30)
    velocity = (
        0.5 * min(n5 / 5.0, 1.0) + 0.3 * min(n30 / 10.0, 1.0) + 0.2 * min(_num(sum5) / 1000.0, 1.0)
    )
    geo = min(max((_num(countries5) - 1.0) / max(n5 - 1.0, 1.0), 0.0), 1.0)
    ratio = _num(risky30) / max(n30, 1.0) if n30 > 0 else 0.0
    high = int(n5 >= 3 or velocity >= 0.6)
    return geo, velocity, ratio, high


def transaction_risk(inputs: Columns, times: list[datetime] | None) -> Columns:
    """``features.transaction_risk_5m`` row by row."""
    return _rowwise(inputs, RISK_INPUTS, _risk, RISK_OUTPUTS)


def _engagement(
    pages: Any, dwell: Any, scroll: Any, events5: Any, carts: Any, buys: Any
) -> tuple[Any, ...]:
    c = _num(carts)
    score = (
        0.3 * min(_num(pages) / 10.0, 1.0)
        + 0.3 * min(_num(dwell) / 60.0, 1.0)
        + 0.2 * min(max(_num(scroll), 0.0), 1.0)
        + 0.2 * min(c / 2.0, 1.0)
    )
    conversion = min(_num(buys) / max(c, 1.0), 1.0)
    return _num(events5) / 5.0, conversion, score, int(c >= 1 and score >= 0.5)


def user_engagement(inputs: Columns, times: list[datetime] | None) -> Columns:
    """``features.user_engagement_scores`` row by row."""
    return _rowwise(inputs, ENGAGEMENT_INPUTS, _engagement, ENGAGEMENT_OUTPUTS)


_EDGES: list[Any] = [None, 0, 1, 2, 3, 4, 5, 6, 9, 10, 11, 30, 0.5, 59.9, 60.0, 999.99, 1000.0]
_PROBE_ROWS = 120


def _probe(names: Sequence[str], special: str, values: list[Any]) -> tuple[Columns, list[datetime]]:
    """Every input cycling through the edge values (a different phase per column), the
    ``special`` column's first rows set to ``values`` (NaN and out-of-range cases)."""
    n = _PROBE_ROWS
    columns: Columns = {
        name: [_EDGES[(i * (shift + 1) + shift) % len(_EDGES)] for i in range(n)]
        for shift, name in enumerate(names)
    }
    columns[special][: len(values)] = values
    return columns, [datetime(2026, 3, 1, tzinfo=UTC)] * n


TRANSACTION_RISK = KernelSpec(
    inputs=frozenset(RISK_INPUTS),
    compute=transaction_risk,
    probe=lambda: _probe(RISK_INPUTS, "amount_sum_5m", [float("nan"), 1500.0, 250.25]),
)
USER_ENGAGEMENT = KernelSpec(
    inputs=frozenset(ENGAGEMENT_INPUTS),
    compute=user_engagement,
    probe=lambda: _probe(ENGAGEMENT_INPUTS, "avg_scroll_depth", [float("nan"), -0.5, 0.37, 1.7]),
)
