"""The data contract of the lakehouse deployment: two gold-layer Iceberg tables.

``customer_aggregates`` is the gold table a monthly job rebuilds for every active
customer (one row per customer per month, stamped ``updated_at``);
``churn_labels`` says, at each monthly ``snapshot_date``, whether the customer
churned within the following month. Every timestamp is ``timestamp[us, tz=UTC]``;
``customer_id`` is a string like ``C0000001``.
"""

from __future__ import annotations

import pyarrow as pa

__all__ = [
    "JOIN_KEY",
    "LABEL",
    "LABEL_DERIVED",
    "NAMESPACE",
    "ORACLE",
    "PII_COLUMNS",
    "PLANS",
    "SOURCE_SCHEMAS",
    "TIMESTAMP_FIELDS",
]

JOIN_KEY = "customer_id"
LABEL = "churned"
ORACLE = "churn_probability"
LABEL_DERIVED = frozenset({ORACLE})
NAMESPACE = "gold"  # the Iceberg namespace (the seed's Trino schema)
PLANS = ("basic", "standard", "premium")
TS = pa.timestamp("us", tz="UTC")

SOURCE_SCHEMAS: dict[str, pa.Schema] = {
    "customer_aggregates": pa.schema(
        [
            ("customer_id", pa.string()),
            ("updated_at", TS),
            ("email", pa.string()),
            ("region", pa.string()),
            ("plan", pa.string()),
            ("tenure_months", pa.int64()),
            ("total_orders", pa.int64()),
            ("orders_last_30d", pa.int64()),
            ("avg_order_value", pa.float64()),
            ("monthly_spend", pa.float64()),
            ("days_since_last_order", pa.int64()),
            ("support_tickets", pa.int64()),
        ]
    ),
    "churn_labels": pa.schema(
        [
            ("customer_id", pa.string()),
            ("snapshot_date", TS),
            ("churned", pa.int64()),
            ("churn_probability", pa.float64()),
        ]
    ),
}

TIMESTAMP_FIELDS = {"customer_aggregates": "updated_at", "churn_labels": "snapshot_date"}
PII_COLUMNS = {"customer_aggregates": frozenset({"email"})}
