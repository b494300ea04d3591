"""Synthetic gold layer: monthly customer aggregates and churn labels, deterministic.

``months`` monthly snapshots end at ``as_of`` (one every 30 days, the last one at
``as_of``). Every active customer gets one ``customer_aggregates`` row per snapshot
(``updated_at`` = the snapshot time) built from two latent traits that drift month to
month -- engagement (orders) and friction (support tickets). At every snapshot but the
last, ``churn_labels`` holds ``churned`` drawn from the known model
:func:`~potluck.domains.lakehouse.functions.churn_probability` of that snapshot's
aggregates (and the probability itself, the oracle); a churned customer has no later
rows. The last snapshot has no labels yet: it is the month a model scores.

The seed writes each snapshot as its own Iceberg commit (the sources declare
``seed_commit_by``), so reading a table as of an older snapshot gives the gold layer as
it was that month.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa

from potluck.domains.lakehouse.functions import churn_probability
from potluck.domains.lakehouse.schema import PLANS, SOURCE_SCHEMAS

__all__ = ["MONTHS", "generate"]

MONTHS = 12
_REGIONS = np.array(["north", "south", "east", "west", "central"])
_PLAN_P = np.array([0.5, 0.3, 0.2])
_PLAN_RATE = np.array([-0.15, 0.1, 0.35])  # log order-rate bonus by plan
_PLAN_VALUE = np.array([45.0, 65.0, 95.0])  # typical order value by plan


def generate(size: int, seed: int, as_of: datetime, months: int = MONTHS) -> dict[str, pa.Table]:
    """``size`` customers over ``months`` monthly snapshots ending at ``as_of``."""
    rng = np.random.default_rng(seed)
    n = size
    ids = np.array([f"C{i:07d}" for i in range(1, n + 1)])
    plan = rng.choice(len(PLANS), size=n, p=_PLAN_P)
    region = rng.integers(0, len(_REGIONS), n)
    tenure0 = rng.integers(1, 61, n)
    engagement = rng.normal(0.0, 1.0, n)
    friction = rng.normal(0.0, 1.0, n)
    value = _PLAN_VALUE[plan] * rng.lognormal(0.0, 0.3, n)
    rate = np.exp(0.6 + 0.5 * engagement + _PLAN_RATE[plan])  # orders per month
    total = rng.poisson(rate * tenure0 * 0.8)
    tickets_hist = [rng.poisson(np.exp(-1.3 + 0.6 * friction)) for _ in range(2)]
    days_since = rng.integers(0, 40, n)
    active = np.ones(n, dtype=bool)
    aggregates: dict[str, list[np.ndarray]] = {
        c: [] for c in SOURCE_SCHEMAS["customer_aggregates"].names
    }
    labels: dict[str, list[np.ndarray]] = {c: [] for c in SOURCE_SCHEMAS["churn_labels"].names}
    for k in range(months):
        at = as_of - timedelta(days=30 * (months - 1 - k))
        engagement = 0.8 * engagement + rng.normal(0.0, 0.45, n)
        friction = 0.7 * friction + rng.normal(0.0, 0.6, n)
        rate = np.exp(0.6 + 0.5 * engagement + _PLAN_RATE[plan])
        orders = rng.poisson(rate)
        total = total + orders
        value = value * rng.lognormal(0.0, 0.05, n)
        spend = orders * value * rng.gamma(20.0, 1 / 20.0, n)
        recent = np.minimum(30, rng.exponential(30.0 / (orders + 0.5))).astype(np.int64)
        days_since = np.where(orders > 0, recent, np.minimum(days_since + 30, 365))
        tickets_hist.append(rng.poisson(np.exp(-1.3 + 0.6 * friction)))
        tickets = tickets_hist[-1] + tickets_hist[-2] + tickets_hist[-3]
        tenure = tenure0 + k
        rows = np.flatnonzero(active)
        stamp = np.full(len(rows), int(at.timestamp() * 1_000_000), dtype=np.int64)
        for name, values in (
            ("customer_id", ids[rows]),
            ("updated_at", stamp),
            ("email", np.char.add(np.char.lower(ids[rows]), "@example.com")),
            ("region", _REGIONS[region[rows]]),
            ("plan", np.array(PLANS)[plan[rows]]),
            ("tenure_months", tenure[rows]),
            ("total_orders", total[rows]),
            ("orders_last_30d", orders[rows]),
            ("avg_order_value", np.round(value[rows], 2)),
            ("monthly_spend", np.round(spend[rows], 2)),
            ("days_since_last_order", days_since[rows]),
            ("support_tickets", tickets[rows]),
        ):
            aggregates[name].append(np.asarray(values))
        if k == months - 1:
            break  # the latest month: not labelled yet
        p = churn_probability(
            days_since[rows],
            orders[rows],
            tickets[rows],
            tenure[rows],
            np.array(PLANS)[plan[rows]],
            total[rows],
        )
        churned = (rng.random(len(rows)) < p).astype(np.int64)
        for name, values in (
            ("customer_id", ids[rows]),
            ("snapshot_date", stamp),
            ("churned", churned),
            ("churn_probability", np.round(p, 6)),
        ):
            labels[name].append(np.asarray(values))
        active[rows[churned == 1]] = False
    return {
        "customer_aggregates": _table(aggregates, SOURCE_SCHEMAS["customer_aggregates"]),
        "churn_labels": _table(labels, SOURCE_SCHEMAS["churn_labels"]),
    }


def _table(columns: dict[str, list[np.ndarray]], schema: pa.Schema) -> pa.Table:
    arrays = []
    for field in schema:
        values = np.concatenate(columns[field.name])
        if pa.types.is_timestamp(field.type):
            arrays.append(pa.array(values.astype(np.int64), field.type))
        else:
            arrays.append(
                pa.array(values.tolist() if values.dtype.kind == "U" else values, field.type)
            )
    return pa.Table.from_arrays(arrays, schema=schema)
