"""The Feast objects of the churn deployment, declared once for every profile.

Three views over the one gold table ``customer_aggregates`` (served from Iceberg by
the ``iceberg`` connector, point-in-time), with TTLs matching how often each part
changes; one on-demand view of ratios. ``email`` is PII-tagged and never served;
``churned`` and ``churn_probability`` are in no view.
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
from feast import Entity, FeatureService, FeatureView, Field, ValueType
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Float64, Int64, String

from potluck.offline.source import PotluckSource

__all__ = [
    "FEATURE_SERVICES",
    "FEATURE_VIEWS",
    "OBJECTS",
    "churn_full",
    "churn_v1",
    "customer",
    "customer_account",
    "customer_activity",
    "customer_support",
    "customer_trends",
]

OWNER = "lakehouse-analytics@potluck.example"
PII = {"pii": "true"}
GOLD = PotluckSource(name="customer_aggregates", timestamp_field="updated_at")

customer = Entity(
    name="customer",
    join_keys=["customer_id"],
    value_type=ValueType.STRING,
    description="A customer of the shop, keyed C0000001...",
)


def _view(name: str, ttl_days: int, fields: list[Field], description: str) -> FeatureView:
    return FeatureView(
        name=name,
        entities=[customer],
        ttl=timedelta(days=ttl_days),
        schema=fields,
        source=GOLD,
        online=True,
        description=description,
        owner=OWNER,
        tags={"domain": "lakehouse", "layer": "gold", "freshness_target": f"{ttl_days + 5}d"},
    )


customer_activity = _view(
    "customer_activity",
    45,
    [
        Field(name="total_orders", dtype=Int64, description="Orders since sign-up"),
        Field(name="orders_last_30d", dtype=Int64, description="Orders in the last 30 days"),
        Field(name="avg_order_value", dtype=Float64, description="Average order value"),
        Field(name="monthly_spend", dtype=Float64, description="Spend in the last 30 days"),
        Field(
            name="days_since_last_order",
            dtype=Int64,
            description="Days from the latest order to the snapshot (capped at 365)",
        ),
    ],
    "Ordering activity of the latest monthly gold snapshot within 45 days.",
)

customer_support = _view(
    "customer_support",
    100,
    [Field(name="support_tickets", dtype=Int64, description="Tickets opened in the last 90 days")],
    "Support load of the latest monthly snapshot within 100 days.",
)

customer_account = _view(
    "customer_account",
    400,
    [
        Field(name="plan", dtype=String, description="basic | standard | premium"),
        Field(name="tenure_months", dtype=Int64, description="Whole months since sign-up"),
        Field(name="region", dtype=String, description="north | south | east | west | central"),
        Field(name="email", dtype=String, description="Contact address", tags=PII),
    ],
    "Account attributes of the latest snapshot within 400 days.",
)


@on_demand_feature_view(  # type: ignore[untyped-decorator]
    sources=[
        customer_activity[["orders_last_30d", "total_orders"]],
        customer_account[["tenure_months"]],
        customer_support[["support_tickets"]],
    ],
    schema=[
        Field(name="engagement_ratio", dtype=Float64),
        Field(name="tickets_per_order", dtype=Float64),
    ],
    mode="pandas",
    description=(
        "engagement_ratio = orders_last_30d / max(total_orders / max(tenure_months, 1), 0.1); "
        "tickets_per_order = support_tickets / (orders_last_30d + 1)."
    ),
    owner=OWNER,
)
def customer_trends(inputs: pd.DataFrame) -> pd.DataFrame:
    # Feast may rebuild this function from its source text: everything it uses is imported here.
    import pandas as pd

    from potluck.domains.lakehouse import functions as fn

    def col(name: str) -> pd.Series:
        return pd.to_numeric(inputs[name], errors="coerce").astype("float64")

    out = pd.DataFrame(index=inputs.index)
    out["engagement_ratio"] = fn.engagement_ratio(
        col("orders_last_30d"), col("total_orders"), col("tenure_months")
    ).astype("float64")
    out["tickets_per_order"] = fn.tickets_per_order(
        col("support_tickets"), col("orders_last_30d")
    ).astype("float64")
    return out


FEATURE_VIEWS = [customer_activity, customer_support, customer_account]


def _public(view: FeatureView) -> list[str]:
    return [f.name for f in view.features if f.tags.get("pii") != "true"]


churn_v1 = FeatureService(
    name="churn_v1",
    features=[
        customer_activity[
            ["days_since_last_order", "orders_last_30d", "total_orders", "avg_order_value"]
        ],
        customer_support[["support_tickets"]],
        customer_account[["plan", "tenure_months"]],
        customer_trends[["engagement_ratio"]],
    ],
    description="The production churn model's features.",
    owner=OWNER,
)

churn_full = FeatureService(
    name="churn_full",
    features=[view[_public(view)] for view in FEATURE_VIEWS] + [customer_trends],
    description="Every non-PII, non-label feature.",
    owner=OWNER,
)

FEATURE_SERVICES = [churn_v1, churn_full]
OBJECTS = [customer, *FEATURE_VIEWS, customer_trends, *FEATURE_SERVICES]
