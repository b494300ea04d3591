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

from datetime import UTC, datetime
from typing import Any

from potluck.online._odfv import Columns, KernelSpec

__all__ = ["TRANSACTION_RISK", "USER_ENGAGEMENT"]


def _num(x: Any) -> float:
    """A float with null and NaN as 0 (``functions._num`` for one value)."""
    if x is None:
        return 0.0
    value = float(x)
    return 0.0 if value != value else value


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
    rows = [
        _risk(*values)
        for values in zip(
            inputs["txn_count_5m"],
            inputs["txn_count_30m"],
            inputs["amount_sum_5m"],
            inputs["unique_countries_5m"],
            inputs["high_risk_count_30m"],
            strict=True,
        )
    ]
    names = ("geo_diversity_score", "velocity_score", "high_risk_txn_ratio", "is_high_velocity")
    return {name: [r[i] for r in rows] for i, name in enumerate(names)}


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
    rows = [
        _engagement(*values)
        for values in zip(
            inputs["pages_per_session"],
            inputs["avg_dwell_time_sec"],
            inputs["avg_scroll_depth"],
            inputs["events_5m"],
            inputs["cart_adds_session"],
            inputs["purchases_session"],
            strict=True,
        )
    ]
    names = ("click_rate_5m", "conversion_rate_session", "engagement_score", "is_likely_purchaser")
    return {name: [r[i] for r in rows] for i, name in enumerate(names)}


_EDGES: list[Any] = [None, 0, 1, 2, 3, 4, 5, 6, 9, 10, 11, 30, 0.5, 59.9, 60.0, 999.99, 1000.0]


def _column(n: int, shift: int) -> list[Any]:
    return [_EDGES[(i * (shift + 1) + shift) % len(_EDGES)] for i in range(n)]


def _times(n: int) -> list[datetime]:
    return [datetime(2026, 3, 1, tzinfo=UTC)] * n


def _risk_probe() -> tuple[Columns, list[datetime]]:
    n = 120
    columns: Columns = {
        name: _column(n, shift)
        for shift, name in enumerate(
            (
                "txn_count_5m",
                "txn_count_30m",
                "amount_sum_5m",
                "unique_countries_5m",
                "high_risk_count_30m",
            )
        )
    }
    columns["amount_sum_5m"][:3] = [float("nan"), 1500.0, 250.25]
    return columns, _times(n)


def _engagement_probe() -> tuple[Columns, list[datetime]]:
    n = 120
    columns: Columns = {
        name: _column(n, shift)
        for shift, name in enumerate(
            (
                "pages_per_session",
                "avg_dwell_time_sec",
                "avg_scroll_depth",
                "events_5m",
                "cart_adds_session",
                "purchases_session",
            )
        )
    }
    columns["avg_scroll_depth"][:4] = [float("nan"), -0.5, 0.37, 1.7]
    return columns, _times(n)


TRANSACTION_RISK = KernelSpec(
    inputs=frozenset(
        {
            "txn_count_5m",
            "txn_count_30m",
            "amount_sum_5m",
            "unique_countries_5m",
            "high_risk_count_30m",
        }
    ),
    compute=transaction_risk,
    probe=_risk_probe,
)
USER_ENGAGEMENT = KernelSpec(
    inputs=frozenset(
        {
            "pages_per_session",
            "avg_dwell_time_sec",
            "avg_scroll_depth",
            "events_5m",
            "cart_adds_session",
            "purchases_session",
        }
    ),
    compute=user_engagement,
    probe=_engagement_probe,
)
