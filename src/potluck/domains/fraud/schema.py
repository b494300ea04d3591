"""The data contract of the fraud deployment: two event sources.

``transactions`` is the card-authorization stream (one row per transaction; the label
``is_fraud`` and the generator's true probability ``fraud_probability`` ride along, as a
chargeback feed would join them later). ``clickstream`` is the web/app event stream of
sessions (page views, scrolls, cart adds, purchases); ``converted`` (the session ends in
a purchase) is the personalization label and ``purchase_probability`` its oracle.
Every timestamp is ``timestamp[us, tz=UTC]``.
"""

from __future__ import annotations

import pyarrow as pa

__all__ = [
    "CHANNELS",
    "CLICK_EVENTS",
    "COUNTRIES",
    "LABEL",
    "LABEL_DERIVED",
    "MERCHANT_CATEGORIES",
    "ORACLE",
    "PII_COLUMNS",
    "PURCHASE_LABEL",
    "PURCHASE_ORACLE",
    "SOURCE_SCHEMAS",
    "TIMESTAMP_FIELDS",
    "TS",
]

TS = pa.timestamp("us", tz="UTC")
LABEL = "is_fraud"
ORACLE = "fraud_probability"
PURCHASE_LABEL = "converted"
PURCHASE_ORACLE = "purchase_probability"
LABEL_DERIVED = {
    "transactions": frozenset({ORACLE}),
    "clickstream": frozenset({PURCHASE_LABEL, PURCHASE_ORACLE}),
}
PII_COLUMNS = {"transactions": frozenset({"ip_address"})}

COUNTRIES = ("US", "GB", "DE", "FR", "BR", "IN", "NG", "RU", "CN", "MX")
CHANNELS = ("pos", "online", "atm")
# (category, high risk?)
MERCHANT_CATEGORIES = (
    ("grocery", 0),
    ("restaurants", 0),
    ("fuel", 0),
    ("retail", 0),
    ("travel", 0),
    ("electronics", 1),
    ("gift_cards", 1),
    ("crypto_exchange", 1),
    ("wire_transfer", 1),
)
CLICK_EVENTS = ("page_view", "scroll", "cart_add", "purchase")

SOURCE_SCHEMAS: dict[str, pa.Schema] = {
    "transactions": pa.schema(
        [
            ("transaction_id", pa.string()),
            ("card_id", pa.string()),
            ("user_id", pa.string()),
            ("device_id", pa.string()),
            ("ts", TS),
            ("amount", pa.float64()),
            ("merchant_category", pa.string()),
            ("country", pa.string()),
            ("channel", pa.string()),
            ("high_risk_merchant", pa.int64()),
            ("weekend", pa.int64()),
            ("device_age_min", pa.float64()),
            ("ip_address", pa.string()),
            ("is_fraud", pa.int64()),
            ("fraud_probability", pa.float64()),
        ]
    ),
    "clickstream": pa.schema(
        [
            ("event_id", pa.string()),
            ("session_id", pa.string()),
            ("user_id", pa.string()),
            ("ts", TS),
            ("event_type", pa.string()),
            ("page", pa.string()),
            ("dwell_sec", pa.float64()),
            ("scroll_depth", pa.float64()),
            ("session_elapsed_min", pa.float64()),
            ("converted", pa.int64()),
            ("purchase_probability", pa.float64()),
        ]
    ),
}

TIMESTAMP_FIELDS = {"transactions": "ts", "clickstream": "ts"}
