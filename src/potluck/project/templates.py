"""The files ``potluck init`` writes. ``{name}`` is the project's name."""

from __future__ import annotations

__all__ = ["BASIC_DEPLOYMENT", "README", "SAMPLE_CSV"]

BASIC_DEPLOYMENT = '''"""The {name} deployment: everything domain-specific about this project, in one file.

potluck reads ``DEPLOYMENT`` (the data contract, the label, the model defaults) when
POTLUCK_DEPLOYMENT points at this folder, and the Feast objects below (``OBJECTS``)
when it registers them with `potluck apply`. Edit freely; the README lists the next
commands.
"""

from datetime import timedelta

import pyarrow as pa
from feast import Entity, FeatureService, FeatureView, Field, ValueType
from feast.types import Float64, Int64, String

from potluck.deployment import Binding, Deployment, EntitySpec, LabelSpec, ModelDefaults, SourceSpec
from potluck.offline.source import PotluckSource

TS = pa.timestamp("us", tz="UTC")

# -- the data contract: one SourceSpec per logical source ---------------------------------
# schema: the columns and types `potluck load` checks every file against.
# timestamp_field: when each row became true (point-in-time joins read it).
# pii: stored, never served or trained on. label_derived: computed from the label.
# bindings: where the source lives per profile (embedded: files here; services: servers).
SOURCES = {
    "orders": SourceSpec(
        schema=pa.schema(
            [
                ("customer_id", pa.string()),
                ("ordered_at", TS),
                ("order_total", pa.float64()),
                ("items", pa.int64()),
                ("channel", pa.string()),
                ("email", pa.string()),
                ("churned_next_month", pa.int64()),
            ]
        ),
        timestamp_field="ordered_at",
        entity="customer",
        pii=frozenset({"email"}),
        bindings={
            "embedded": Binding("parquet", {"folder": "lake"}),
            "services": Binding("postgres"),
        },
    ),
}

DEPLOYMENT = Deployment(
    name="{name}",
    description="Churn of customers from their latest order.",
    entities=(EntitySpec("customer", {"customer_id": pa.string()}),),
    sources=SOURCES,
    definitions=__name__,  # this module holds the Feast objects (OBJECTS below)
    label=LabelSpec(source="orders", column="churned_next_month", task="classification"),
    model=ModelDefaults(name="{name}_model", feature_service="customer_v1"),
    entity_noun="customers",
)

# -- the Feast objects: entity, feature views, services ----------------------------------
customer = Entity(name="customer", join_keys=["customer_id"], value_type=ValueType.STRING)

latest_order = FeatureView(
    name="latest_order",
    entities=[customer],
    ttl=timedelta(days=90),
    schema=[
        Field(name="order_total", dtype=Float64, description="Total of the latest order"),
        Field(name="items", dtype=Int64, description="Items in the latest order"),
        Field(name="channel", dtype=String, description="web | store | app"),
    ],
    source=PotluckSource(name="orders", timestamp_field="ordered_at"),
    online=True,
)

customer_v1 = FeatureService(name="customer_v1", features=[latest_order])

OBJECTS = [customer, latest_order, customer_v1]
'''

README = """# {name}

A potluck project. `potluck_deployment.py` declares its sources, label and features.

```bash
export POTLUCK_DEPLOYMENT={folder}      # this folder: every command uses this project
potluck load orders data/orders.csv    # check the file against the schema, then write it
potluck apply                          # register the feature views and services
potluck training-set                   # label rows joined point-in-time with customer_v1
potluck train --split stratified       # or time (default) / random
potluck materialize                    # load the online store
potluck online C001                    # read one customer's features
potluck predict C001                   # score it with the registered model
potluck serve                          # the REST API (POTLUCK_API_KEYS sets its keys)
```

A file with no timestamp column loads with `--time 2024-01-01T00:00:00` (every row stamped
with that time). `potluck validate` checks every source against this contract.
"""

SAMPLE_CSV = """customer_id,ordered_at,order_total,items,channel,email,churned_next_month
C001,2024-01-03T10:00:00,120.5,3,web,a@example.com,0
C002,2024-01-04T11:30:00,N/A,1,store,b@example.com,1
C003,2024-01-05 09:15:00,33.0,2,app,,0
"""
