"""The churn deployment's derived features and its known churn model, as pure functions.

Vectorized over pandas Series or numpy arrays alike. The on-demand view
``customer_trends`` serves the first two; the generator draws ``churned`` from
:func:`churn_probability`, so the oracle AUC of that probability is the best a
model can reach.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "PLAN_EFFECT",
    "churn_logit",
    "churn_probability",
    "engagement_ratio",
    "tickets_per_order",
]

# log-odds added per plan: the basic plan churns most, premium least
PLAN_EFFECT = {"basic": 0.45, "standard": 0.0, "premium": -0.55}


def engagement_ratio(orders_last_30d: Any, total_orders: Any, tenure_months: Any) -> Any:
    """Orders in the last 30 days over the lifetime monthly average
    ``total_orders / max(tenure_months, 1)`` (floored at 0.1): below 1, the customer is
    slowing down."""
    lifetime = np.maximum(total_orders / np.maximum(tenure_months, 1), 0.1)
    return orders_last_30d / lifetime


def tickets_per_order(support_tickets: Any, orders_last_30d: Any) -> Any:
    """Support tickets of the last 90 days per order of the last 30 days (+1 smoothing):
    ``support_tickets / (orders_last_30d + 1)``."""
    return support_tickets / (orders_last_30d + 1)


def churn_logit(
    days_since_last_order: Any,
    orders_last_30d: Any,
    support_tickets: Any,
    tenure_months: Any,
    plan_effect: Any,
    ratio: Any,
) -> Any:
    """The generator's log-odds of churning within the next month."""
    return (
        -3.1
        + 0.032 * np.minimum(days_since_last_order, 120)
        - 0.22 * np.minimum(orders_last_30d, 8)
        + 0.42 * np.minimum(support_tickets, 6)
        - 0.02 * np.minimum(tenure_months, 60)
        + plan_effect
        - 0.45 * np.log(ratio + 0.1)
    )


def churn_probability(
    days_since_last_order: Any,
    orders_last_30d: Any,
    support_tickets: Any,
    tenure_months: Any,
    plan: Any,
    total_orders: Any,
) -> Any:
    """P(churn within the next month) of the known model: a logistic function of recency
    (+0.032 per day since the last order, capped at 120), recent orders (-0.22 each,
    capped at 8), support tickets (+0.42 each, capped at 6), tenure (-0.02 per month,
    capped at 60), the plan (basic +0.45, premium -0.55) and the engagement ratio
    (-0.45 log(ratio + 0.1)), intercept -3.1."""
    effect = np.vectorize(PLAN_EFFECT.__getitem__, otypes=[float])(np.asarray(plan))
    ratio = engagement_ratio(
        np.asarray(orders_last_30d, float),
        np.asarray(total_orders, float),
        np.asarray(tenure_months, float),
    )
    z = churn_logit(
        np.asarray(days_since_last_order, float),
        np.asarray(orders_last_30d, float),
        np.asarray(support_tickets, float),
        np.asarray(tenure_months, float),
        effect,
        ratio,
    )
    return 1.0 / (1.0 + np.exp(-z))
