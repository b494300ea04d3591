"""A second deployment that lives only in the tests: weekly revenue of stores.

Integer join key (``store_id``), a regression label (``next_week_revenue``) with its
noise-free expectation as the oracle, one engineered feature wired by parameter name,
a PII column. Nothing in ``src/potluck`` knows it exists: it is selected with
``POTLUCK_DEPLOYMENT=<this folder>`` like any user's project.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
from feast import Entity, FeatureService, FeatureView, Field, ValueType
from feast.types import Float64, Int64, String

from potluck.deployment import (
    AsOfInput,
    Deployment,
    EngineeringSpec,
    EntitySpec,
    LabelSpec,
    ModelDefaults,
    SourceSpec,
)
from potluck.offline.source import PotluckSource

TS = pa.timestamp("us", tz="UTC")
SALES = pa.schema(
    [
        ("store_id", pa.int64()),
        ("day", TS),
        ("revenue", pa.float64()),
        ("visitors", pa.int64()),
        ("region", pa.string()),
        ("manager_email", pa.string()),
    ]
)
TARGETS = pa.schema(
    [
        ("store_id", pa.int64()),
        ("week_start", TS),
        ("next_week_revenue", pa.float64()),
        ("expected_revenue", pa.float64()),
    ]
)
RATIOS = pa.schema(
    [("store_id", pa.int64()), ("event_timestamp", TS), ("revenue_per_visitor", pa.float64())]
)


# -- engineered feature: a pure function named after its output --------------------------
def revenue_per_visitor(revenue: pd.Series, visitors: pd.Series) -> pd.Series:
    """Revenue of the latest day divided by its visitors (null without visitors)."""
    v = pd.to_numeric(visitors, errors="coerce").astype("float64")
    return pd.to_numeric(revenue, errors="coerce").astype("float64") / v.where(v > 0)


def _generate(size: int, seed: int, as_of: datetime) -> dict[str, pa.Table]:
    """``size`` stores, 8 weeks of daily sales, a weekly target: 7 x the week's last daily
    revenue + 40 in the north + noise (sd 15); the oracle is the noise-free part."""
    rng = np.random.default_rng(seed)
    stores = np.arange(1, size + 1)
    region = rng.choice(["north", "south", "east"], size=size)
    base = rng.uniform(50, 150, size=size)
    days = [as_of - timedelta(days=d) for d in range(56, 0, -1)]
    sales = {name: [] for name in SALES.names}
    last: dict[tuple[int, int], float] = {}
    for d, day in enumerate(days):
        revenue = base * (1 + 0.3 * np.sin(d / 6 + stores)) + rng.normal(0, 5, size)
        visitors = np.maximum(1, (revenue / 4 + rng.normal(0, 3, size)).astype(int))
        for i, store in enumerate(stores):
            sales["store_id"].append(int(store))
            sales["day"].append(day)
            sales["revenue"].append(float(revenue[i]))
            sales["visitors"].append(int(visitors[i]))
            sales["region"].append(str(region[i]))
            sales["manager_email"].append(f"m{store}@example.com")
            last[(int(store), d)] = float(revenue[i])
    targets = {name: [] for name in TARGETS.names}
    for d in range(6, len(days), 7):
        for i, store in enumerate(stores):
            expected = 7 * last[(int(store), d)] + (40.0 if region[i] == "north" else 0.0)
            targets["store_id"].append(int(store))
            targets["week_start"].append(days[d] + timedelta(hours=1))
            targets["expected_revenue"].append(expected)
            targets["next_week_revenue"].append(expected + float(rng.normal(0, 15)))
    return {"sales": pa.table(sales, schema=SALES), "targets": pa.table(targets, schema=TARGETS)}


DEPLOYMENT = Deployment(
    name="stores",
    description="Next week's revenue of each store.",
    entities=(EntitySpec("store", {"store_id": pa.int64()}),),
    sources={
        "sales": SourceSpec(SALES, "day", "store", pii=frozenset({"manager_email"})),
        "targets": SourceSpec(
            TARGETS, "week_start", "store", label_derived=frozenset({"expected_revenue"})
        ),
        "store_ratios": SourceSpec(RATIOS, "event_timestamp", "store", engineered=True),
    },
    definitions=__name__,
    label=LabelSpec(
        source="targets",
        column="next_week_revenue",
        task="regression",
        oracle_column="expected_revenue",
    ),
    model=ModelDefaults(name="stores_revenue", metric="mae", feature_service="forecast_v1"),
    engineering=EngineeringSpec(
        anchor="targets",
        anchor_timestamp="week_start",
        inputs={"sales": AsOfInput("day", {"revenue": "revenue", "visitors": "visitors"})},
        outputs={"store_ratios": RATIOS},
        modules=(__name__,),
    ),
    generate=_generate,
    default_size=40,
    entity_noun="stores",
)

# -- Feast objects -----------------------------------------------------------------------
store = Entity(name="store", join_keys=["store_id"], value_type=ValueType.INT64)

store_sales = FeatureView(
    name="store_sales",
    entities=[store],
    ttl=timedelta(days=14),
    schema=[
        Field(name="revenue", dtype=Float64),
        Field(name="visitors", dtype=Int64),
        Field(name="region", dtype=String),
    ],
    source=PotluckSource(name="sales", timestamp_field="day"),
    online=True,
)
store_ratios = FeatureView(
    name="store_ratios",
    entities=[store],
    ttl=timedelta(days=14),
    schema=[Field(name="revenue_per_visitor", dtype=Float64)],
    source=PotluckSource(name="store_ratios", timestamp_field="event_timestamp"),
    online=True,
)
forecast_v1 = FeatureService(name="forecast_v1", features=[store_sales, store_ratios])

OBJECTS = [store, store_sales, store_ratios, forecast_v1]
