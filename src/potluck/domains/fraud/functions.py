"""The fraud deployment's derived features and its known models, as pure functions.

Vectorized over pandas Series or numpy arrays alike. The on-demand views
``transaction_risk_5m`` and ``user_engagement_scores`` serve the derived features; the
generator draws ``is_fraud`` from :func:`fraud_probability` of the card's window
features at the transaction's own time (the window includes the transaction), so the
oracle AUC of that probability is the best a model of those features can reach.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "NEW_DEVICE_MIN",
    "click_rate_5m",
    "conversion_rate_session",
    "engagement_score",
    "fraud_logit",
    "fraud_probability",
    "geo_diversity_score",
    "high_risk_txn_ratio",
    "is_high_velocity",
    "is_likely_purchaser",
    "velocity_score",
]

NEW_DEVICE_MIN = 60.0  # a device first seen less than an hour ago is "new"


def _num(x: Any) -> Any:
    """float array with nulls as 0 (an empty window's mean is null: no signal)."""
    return np.nan_to_num(np.asarray(x, dtype="float64"), nan=0.0)


def geo_diversity_score(unique_countries_5m: Any, txn_count_5m: Any) -> Any:
    """``(unique_countries_5m - 1) / max(txn_count_5m - 1, 1)`` clipped to [0, 1]: the
    share of the card's other transactions of the last 5 minutes that added a new
    country (0 with at most one transaction, 1 when every one was in a new country)."""
    u, n = _num(unique_countries_5m), _num(txn_count_5m)
    return np.clip((u - 1.0) / np.maximum(n - 1.0, 1.0), 0.0, 1.0)


def velocity_score(txn_count_5m: Any, txn_count_30m: Any, amount_sum_5m: Any) -> Any:
    """``0.5 min(txn_count_5m / 5, 1) + 0.3 min(txn_count_30m / 10, 1)
    + 0.2 min(amount_sum_5m / 1000, 1)``, in [0, 1]."""
    return (
        0.5 * np.minimum(_num(txn_count_5m) / 5.0, 1.0)
        + 0.3 * np.minimum(_num(txn_count_30m) / 10.0, 1.0)
        + 0.2 * np.minimum(_num(amount_sum_5m) / 1000.0, 1.0)
    )


def high_risk_txn_ratio(high_risk_count_30m: Any, txn_count_30m: Any) -> Any:
    """``high_risk_count_30m / txn_count_30m`` (0 with no transaction in 30 minutes)."""
    n = _num(txn_count_30m)
    return np.where(n > 0, _num(high_risk_count_30m) / np.maximum(n, 1.0), 0.0)


def is_high_velocity(txn_count_5m: Any, velocity: Any) -> Any:
    """1 when ``txn_count_5m >= 3`` or ``velocity_score >= 0.6``, else 0."""
    return ((_num(txn_count_5m) >= 3) | (_num(velocity) >= 0.6)).astype("int64")


def click_rate_5m(events_5m: Any) -> Any:
    """Session events per minute over the last 5 minutes: ``events_5m / 5``."""
    return _num(events_5m) / 5.0


def conversion_rate_session(purchases_session: Any, cart_adds_session: Any) -> Any:
    """``min(purchases_session / max(cart_adds_session, 1), 1)``: cart adds turned into
    purchases so far in the session."""
    return np.minimum(_num(purchases_session) / np.maximum(_num(cart_adds_session), 1.0), 1.0)


def engagement_score(
    pages_per_session: Any, avg_dwell_time_sec: Any, avg_scroll_depth: Any, cart_adds: Any
) -> Any:
    """``0.3 min(pages_per_session / 10, 1) + 0.3 min(avg_dwell_time_sec / 60, 1)
    + 0.2 avg_scroll_depth + 0.2 min(cart_adds_session / 2, 1)`` (nulls count as 0),
    in [0, 1]."""
    return (
        0.3 * np.minimum(_num(pages_per_session) / 10.0, 1.0)
        + 0.3 * np.minimum(_num(avg_dwell_time_sec) / 60.0, 1.0)
        + 0.2 * np.clip(_num(avg_scroll_depth), 0.0, 1.0)
        + 0.2 * np.minimum(_num(cart_adds) / 2.0, 1.0)
    )


def is_likely_purchaser(cart_adds_session: Any, engagement: Any) -> Any:
    """1 when the session has a cart add and ``engagement_score >= 0.5``, else 0."""
    return ((_num(cart_adds_session) >= 1) & (_num(engagement) >= 0.5)).astype("int64")


def fraud_logit(
    txn_count_5m: Any,
    unique_countries_5m: Any,
    device_age_min: Any,
    high_risk_count_30m: Any,
    amount_max_5m: Any,
) -> Any:
    """The generator's log-odds that a transaction is fraud, from the card's window
    features at the transaction's own time."""
    count = np.minimum(_num(txn_count_5m) - 1.0, 5.0).clip(0.0)
    hops = np.minimum(_num(unique_countries_5m) - 1.0, 3.0).clip(0.0)
    age = np.asarray(device_age_min, dtype="float64")
    new_device = np.where(np.isnan(age), 0.0, (age < NEW_DEVICE_MIN).astype("float64"))
    risky = np.minimum(_num(high_risk_count_30m), 3.0)
    amount = np.log1p(_num(amount_max_5m) / 100.0)
    return -5.8 + 0.75 * count + 1.1 * hops + 1.9 * new_device + 0.9 * risky + 0.6 * amount


def fraud_probability(
    txn_count_5m: Any,
    unique_countries_5m: Any,
    device_age_min: Any,
    high_risk_count_30m: Any,
    amount_max_5m: Any,
) -> Any:
    """P(fraud) of the known model: a logistic function with intercept -5.8 of burst size
    (+0.75 per other transaction in 5 minutes, capped at 5), country hopping (+1.1 per
    extra country in 5 minutes, capped at 3), a new device (+1.9 when the transaction's
    device was first seen under an hour earlier), high-risk merchants (+0.9 per one in 30
    minutes, capped at 3) and size (+0.6 log(1 + amount_max_5m / 100))."""
    z = fraud_logit(
        txn_count_5m, unique_countries_5m, device_age_min, high_risk_count_30m, amount_max_5m
    )
    return 1.0 / (1.0 + np.exp(-z))
