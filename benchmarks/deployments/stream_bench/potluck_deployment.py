"""The streaming benchmark's deployment: the clicks test deployment plus a Feast push source.

Composite use of the platform: an event source (``txns``) with string keys, a windowed
view (count / sum / mean / max / count_distinct / last / time_since_last over 5 minutes
to 1 day, one with a row filter) beside a latest-value view over the same events.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
from feast import Entity, FeatureService, FeatureView, Field, PushSource, ValueType
from feast.types import Float64, String

from potluck.deployment import Binding, Deployment, EntitySpec, LabelSpec, ModelDefaults, SourceSpec
from potluck.offline.source import PotluckSource
from potluck.windows import WindowFeature
from potluck.windows.declare import windowed_view

TS = pa.timestamp("us", tz="UTC")
TXNS = pa.schema(
    [
        ("card_id", pa.string()),
        ("ts", TS),
        ("amount", pa.float64()),
        ("country", pa.string()),
        ("high_risk", pa.int64()),
        ("is_fraud", pa.int64()),
    ]
)
FEATURES = [
    WindowFeature("txn_count_5m", None, "count", timedelta(minutes=5)),
    WindowFeature("txn_count_1h", None, "count", timedelta(hours=1)),
    WindowFeature("txn_count_24h", None, "count", timedelta(days=1)),
    WindowFeature("amount_sum_1h", "amount", "sum", timedelta(hours=1)),
    WindowFeature("amount_avg_1h", "amount", "mean", timedelta(hours=1)),
    WindowFeature("amount_max_1h", "amount", "max", timedelta(hours=1)),
    WindowFeature("unique_countries_1h", "country", "count_distinct", timedelta(hours=1)),
    WindowFeature("last_country_1d", "country", "last", timedelta(days=1)),
    WindowFeature(
        "minutes_since_last_1d", None, "time_since_last", timedelta(days=1), unit="minutes"
    ),
    WindowFeature(
        "high_risk_count_1h", None, "count", timedelta(hours=1), filter=("high_risk", "==", 1)
    ),
]


def _generate(size: int, seed: int, as_of: datetime) -> dict[str, pa.Table]:
    """``size`` cards, ~30 transactions each over the last day, some in bursts."""
    rng = np.random.default_rng(seed)
    n = size * 30
    cards = rng.integers(0, size, n)
    seconds = rng.integers(0, 86_400, n)
    burst = rng.random(n) < 0.2  # a fifth land within minutes of as_of
    seconds = np.where(burst, rng.integers(0, 600, n), seconds)
    times = [as_of - timedelta(seconds=int(s)) for s in seconds]
    amount = np.round(rng.gamma(2.0, 30.0, n), 2)
    country = rng.choice(["US", "FR", "DE", "BR"], n, p=[0.7, 0.1, 0.1, 0.1])
    table = pa.table(
        {
            "card_id": [f"card_{c:05d}" for c in cards],
            "ts": pa.array(times, TS),
            "amount": amount,
            "country": country,
            "high_risk": (rng.random(n) < 0.1).astype(np.int64),
            "is_fraud": (rng.random(n) < 0.05).astype(np.int64),
        },
        schema=TXNS,
    )
    return {"txns": table}


DEPLOYMENT = Deployment(
    name="stream_bench",
    entities=(EntitySpec("card", {"card_id": pa.string()}),),
    # SQLite appends are incremental (the embedded default, one Parquet file, is rewritten)
    sources={
        "txns": SourceSpec(
            TXNS, "ts", "card", bindings={"embedded": Binding("sqlite", {"file": "events.db"})}
        )
    },
    definitions=__name__,
    label=LabelSpec(source="txns", column="is_fraud"),
    model=ModelDefaults(name="card_fraud", feature_service="card_v1"),
    generate=_generate,
    default_size=50,
)

card = Entity(name="card", join_keys=["card_id"], value_type=ValueType.STRING)
SOURCE = PotluckSource(name="txns", timestamp_field="ts")
card_windows = windowed_view(
    name="card_windows",
    entities=[card],
    source=SOURCE,
    source_schema=TXNS,
    features=FEATURES,
    horizon=timedelta(hours=2),
)
card_latest = FeatureView(
    name="card_latest",
    entities=[card],
    ttl=timedelta(days=1),
    schema=[Field(name="amount", dtype=Float64), Field(name="country", dtype=String)],
    source=SOURCE,
    online=True,
)
card_v1 = FeatureService(name="card_v1", features=[card_windows, card_latest[["amount"]]])
# Feast's own path for the same events: FeatureStore.push into a push-fed latest view
txns_push = PushSource(name="txns_push", batch_source=SOURCE)
card_latest_push = FeatureView(
    name="card_latest_push",
    entities=[card],
    ttl=timedelta(days=1),
    schema=[Field(name="amount", dtype=Float64), Field(name="country", dtype=String)],
    source=txns_push,
    online=True,
)
OBJECTS = [card, card_windows, card_latest, card_v1, txns_push, card_latest_push]
PUSH_SOURCES = [txns_push]
