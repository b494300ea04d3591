"""The Feast objects of the fraud deployment, declared once for every profile.

Window views (exact sliding windows, ``(t - w, t]``; see ``docs/FRAUD.md``):
``transaction_stats_5m`` per card, ``device_activity_24h`` per device (both over the
transactions stream) and ``user_engagement_5m`` per (user, session) over the
clickstream. On-demand views derive scores from them: ``transaction_risk_5m`` and
``user_engagement_scores``. ``is_fraud``, ``fraud_probability``, ``converted`` and
``purchase_probability`` are in no view; ``ip_address`` (PII) in none either.
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
from feast import Entity, FeatureService, Field, ValueType
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Float64, Int64

from potluck.domains.fraud.kernels import ENGAGEMENT_INPUTS, RISK_INPUTS
from potluck.domains.fraud.schema import SOURCE_SCHEMAS
from potluck.offline.source import PotluckSource
from potluck.windows import Filter, WindowFeature
from potluck.windows.declare import windowed_view

__all__ = [
    "FEATURE_SERVICES",
    "FEATURE_VIEWS",
    "OBJECTS",
    "card",
    "device",
    "device_activity_24h",
    "fraud_detection_v1",
    "personalization_v1",
    "session",
    "transaction_risk_5m",
    "transaction_stats_5m",
    "user",
    "user_engagement_5m",
    "user_engagement_scores",
]

OWNER = "fraud-platform@potluck.example"
M5, M30, H2, D1, D30 = (
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(days=1),
    timedelta(days=30),
)
HORIZON = timedelta(hours=2)  # online window states stay exact this long after a run
TRANSACTIONS = PotluckSource(name="transactions", timestamp_field="ts")
CLICKSTREAM = PotluckSource(name="clickstream", timestamp_field="ts")

card = Entity(
    name="card",
    join_keys=["card_id"],
    value_type=ValueType.STRING,
    description="A payment card, keyed card_00001...",
)
user = Entity(
    name="user",
    join_keys=["user_id"],
    value_type=ValueType.STRING,
    description="A customer (cardholder and shopper), keyed user_00001...",
)
device = Entity(
    name="device",
    join_keys=["device_id"],
    value_type=ValueType.STRING,
    description="A device fingerprint, keyed dev_000001...",
)
session = Entity(
    name="session",
    join_keys=["session_id"],
    value_type=ValueType.STRING,
    description="A web/app session, keyed sess_000001...",
)

CARD_WINDOWS = [
    WindowFeature("txn_count_5m", None, "count", M5),
    WindowFeature("txn_count_30m", None, "count", M30),
    WindowFeature("txn_count_24h", None, "count", D1),
    WindowFeature("amount_sum_5m", "amount", "sum", M5),
    WindowFeature("amount_avg_5m", "amount", "mean", M5),
    WindowFeature("amount_max_5m", "amount", "max", M5),
    WindowFeature("unique_countries_5m", "country", "count_distinct", M5),
    WindowFeature("time_since_last_txn_min", None, "time_since_last", D1, unit="minutes"),
    WindowFeature("is_weekend", "weekend", "last", D1),
    WindowFeature(
        "high_risk_count_30m", None, "count", M30, filter=(Filter("high_risk_merchant", "==", 1),)
    ),
    WindowFeature("device_age_min", "device_age_min", "last", M5),
    WindowFeature("devices_24h", "device_id", "count_distinct", D1),
]
DEVICE_WINDOWS = [
    WindowFeature("cards_per_device_24h", "card_id", "count_distinct", D1),
    WindowFeature("txn_count_device_24h", None, "count", D1),
    WindowFeature("countries_per_device_24h", "country", "count_distinct", D1),
    WindowFeature("device_first_seen_age_min", "device_age_min", "max", D30),
    WindowFeature("minutes_since_device_seen", None, "time_since_last", D30, unit="minutes"),
]
SESSION_WINDOWS = [
    WindowFeature("session_duration_min", "session_elapsed_min", "max", H2),
    WindowFeature(
        "pages_per_session", None, "count", H2, filter=(Filter("event_type", "==", "page_view"),)
    ),
    WindowFeature("avg_dwell_time_sec", "dwell_sec", "mean", H2),
    WindowFeature("avg_scroll_depth", "scroll_depth", "mean", H2),
    WindowFeature("events_5m", None, "count", M5),
    WindowFeature(
        "cart_adds_session", None, "count", H2, filter=(Filter("event_type", "==", "cart_add"),)
    ),
    WindowFeature(
        "purchases_session", None, "count", H2, filter=(Filter("event_type", "==", "purchase"),)
    ),
]

transaction_stats_5m = windowed_view(
    name="transaction_stats_5m",
    entities=[card],
    source=TRANSACTIONS,
    source_schema=SOURCE_SCHEMAS["transactions"],
    features=CARD_WINDOWS,
    horizon=HORIZON,
    description=(
        "The card's transactions in sliding windows ending at t, t included: a "
        "transaction scored at its own time counts itself (the stream folds it in "
        "before the score is read). is_weekend = weekend flag of the latest transaction "
        "(UTC Saturday/Sunday); device_age_min = age of the latest transaction's device."
    ),
    owner=OWNER,
    tags={"domain": "fraud", "team": "fraud"},
)
device_activity_24h = windowed_view(
    name="device_activity_24h",
    entities=[device],
    source=TRANSACTIONS,
    source_schema=SOURCE_SCHEMAS["transactions"],
    features=DEVICE_WINDOWS,
    horizon=HORIZON,
    description=(
        "The device's transactions: cards and countries seen in 24 hours; "
        "device_first_seen_age_min = minutes from first sight to its latest transaction "
        "(within 30 days)."
    ),
    owner=OWNER,
    tags={"domain": "fraud", "team": "fraud"},
)
user_engagement_5m = windowed_view(
    name="user_engagement_5m",
    entities=[user, session],
    source=CLICKSTREAM,
    source_schema=SOURCE_SCHEMAS["clickstream"],
    features=SESSION_WINDOWS,
    horizon=HORIZON,
    description=(
        "A user's session so far (events of the last 2 hours, a session's lifetime) "
        "and its last 5 minutes."
    ),
    owner=OWNER,
    tags={"domain": "fraud", "team": "personalization"},
)


@on_demand_feature_view(  # type: ignore[untyped-decorator]
    sources=[
        transaction_stats_5m[list(RISK_INPUTS)]  # the kernel reads the same names
    ],
    schema=[
        Field(name="geo_diversity_score", dtype=Float64),
        Field(name="velocity_score", dtype=Float64),
        Field(name="high_risk_txn_ratio", dtype=Float64),
        Field(name="is_high_velocity", dtype=Int64),
    ],
    mode="pandas",
    description=(
        "geo_diversity_score = clip((unique_countries_5m - 1) / max(txn_count_5m - 1, 1), 0, 1); "
        "velocity_score = 0.5 min(txn_count_5m / 5, 1) + 0.3 min(txn_count_30m / 10, 1) "
        "+ 0.2 min(amount_sum_5m / 1000, 1); "
        "high_risk_txn_ratio = high_risk_count_30m / txn_count_30m (0 without one); "
        "is_high_velocity = 1 if txn_count_5m >= 3 or velocity_score >= 0.6."
    ),
    owner=OWNER,
    # the plain-Python twin the online path uses once it agreed with this UDF
    tags={"potluck.kernel": "potluck.domains.fraud.kernels:TRANSACTION_RISK"},
)
def transaction_risk_5m(inputs: pd.DataFrame) -> pd.DataFrame:
    # Feast may rebuild this function from its source text: everything it uses is imported here.
    import pandas as pd

    from potluck.domains.fraud import functions as fn

    out = pd.DataFrame(index=inputs.index)
    velocity = fn.velocity_score(
        inputs["txn_count_5m"], inputs["txn_count_30m"], inputs["amount_sum_5m"]
    )
    out["geo_diversity_score"] = fn.geo_diversity_score(
        inputs["unique_countries_5m"], inputs["txn_count_5m"]
    ).astype("float64")
    out["velocity_score"] = pd.Series(velocity, index=inputs.index).astype("float64")
    out["high_risk_txn_ratio"] = fn.high_risk_txn_ratio(
        inputs["high_risk_count_30m"], inputs["txn_count_30m"]
    ).astype("float64")
    out["is_high_velocity"] = fn.is_high_velocity(inputs["txn_count_5m"], velocity).astype("int64")
    return out


@on_demand_feature_view(  # type: ignore[untyped-decorator]
    sources=[user_engagement_5m[list(ENGAGEMENT_INPUTS)]],
    schema=[
        Field(name="click_rate_5m", dtype=Float64),
        Field(name="conversion_rate_session", dtype=Float64),
        Field(name="engagement_score", dtype=Float64),
        Field(name="is_likely_purchaser", dtype=Int64),
    ],
    mode="pandas",
    description=(
        "click_rate_5m = events_5m / 5 (events per minute); "
        "conversion_rate_session = min(purchases_session / max(cart_adds_session, 1), 1); "
        "engagement_score = 0.3 min(pages_per_session / 10, 1) + 0.3 min(avg_dwell_time_sec / 60, 1) "
        "+ 0.2 avg_scroll_depth + 0.2 min(cart_adds_session / 2, 1) (nulls as 0); "
        "is_likely_purchaser = 1 if cart_adds_session >= 1 and engagement_score >= 0.5."
    ),
    owner=OWNER,
    tags={"potluck.kernel": "potluck.domains.fraud.kernels:USER_ENGAGEMENT"},
)
def user_engagement_scores(inputs: pd.DataFrame) -> pd.DataFrame:
    # Feast may rebuild this function from its source text: everything it uses is imported here.
    import pandas as pd

    from potluck.domains.fraud import functions as fn

    out = pd.DataFrame(index=inputs.index)
    score = fn.engagement_score(
        inputs["pages_per_session"],
        inputs["avg_dwell_time_sec"],
        inputs["avg_scroll_depth"],
        inputs["cart_adds_session"],
    )
    out["click_rate_5m"] = fn.click_rate_5m(inputs["events_5m"]).astype("float64")
    out["conversion_rate_session"] = fn.conversion_rate_session(
        inputs["purchases_session"], inputs["cart_adds_session"]
    ).astype("float64")
    out["engagement_score"] = pd.Series(score, index=inputs.index).astype("float64")
    out["is_likely_purchaser"] = fn.is_likely_purchaser(inputs["cart_adds_session"], score).astype(
        "int64"
    )
    return out


FEATURE_VIEWS = [transaction_stats_5m, device_activity_24h, user_engagement_5m]

fraud_detection_v1 = FeatureService(
    name="fraud_detection_v1",
    features=[transaction_stats_5m, transaction_risk_5m],
    description="The card fraud model's features: card windows and the scores derived from them.",
    owner=OWNER,
    tags={"model": "fraud"},
)
device_risk_v1 = FeatureService(
    name="device_risk_v1",
    features=[device_activity_24h],
    description="Device reputation for fraud analysts and rules (keyed by device_id).",
    owner=OWNER,
)
personalization_v1 = FeatureService(
    name="personalization_v1",
    features=[user_engagement_5m, user_engagement_scores],
    description="Session engagement for personalization (keyed by user_id and session_id).",
    owner=OWNER,
    tags={"model": "personalization"},
)

FEATURE_SERVICES = [fraud_detection_v1, device_risk_v1, personalization_v1]
OBJECTS = [
    card,
    user,
    device,
    session,
    *FEATURE_VIEWS,
    transaction_risk_5m,
    user_engagement_scores,
    *FEATURE_SERVICES,
]
