"""The lakehouse churn deployment, declared on the Deployment seam.

Both sources are Iceberg tables of the ``gold`` namespace (a SQL catalog on SQLite
embedded, on PostgreSQL with an S3 warehouse on services); the seed commits one
snapshot per month, so time travel gives the gold layer as it was. Its data contract
is :mod:`.schema`, its Feast objects :mod:`.features`, its generator :mod:`.synth`
(churn drawn from a known logistic model: the oracle AUC of ``churn_probability``).
Batch scores go back to the catalog (``prediction_sink``).
"""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa

from potluck.deployment import Binding, Deployment, EntitySpec, LabelSpec, ModelDefaults, SourceSpec
from potluck.domains.lakehouse.schema import (
    JOIN_KEY,
    LABEL,
    LABEL_DERIVED,
    NAMESPACE,
    ORACLE,
    PII_COLUMNS,
    SOURCE_SCHEMAS,
    TIMESTAMP_FIELDS,
)

__all__ = ["DEPLOYMENT", "GOLD"]

GOLD = Binding("iceberg", {"namespace": NAMESPACE})


def _generate(size: int, seed: int, as_of: datetime) -> dict[str, pa.Table]:
    from potluck.domains.lakehouse.synth import generate

    return generate(size, seed, as_of)


_SOURCES = {
    name: SourceSpec(
        schema=schema,
        timestamp_field=TIMESTAMP_FIELDS[name],
        entity="customer",
        pii=PII_COLUMNS.get(name, frozenset()),
        label_derived=LABEL_DERIVED & frozenset(schema.names),
        bindings={"embedded": GOLD, "services": GOLD},
        seed_commit_by=TIMESTAMP_FIELDS[name],
        description=f"gold.{name} (Iceberg)",
    )
    for name, schema in SOURCE_SCHEMAS.items()
}

DEPLOYMENT = Deployment(
    name="lakehouse",
    description="Customer churn from an Iceberg gold layer, read in place, point-in-time.",
    entities=(
        EntitySpec(
            "customer", {JOIN_KEY: pa.string()}, "A customer of the shop, keyed C0000001..."
        ),
    ),
    sources=_SOURCES,
    definitions="potluck.domains.lakehouse.features",
    label=LabelSpec(
        source="churn_labels",
        column=LABEL,
        task="classification",
        positive=1,
        derived=LABEL_DERIVED,
        oracle_column=ORACLE,
    ),
    model=ModelDefaults(name="churn", feature_service="churn_v1"),
    generate=_generate,
    default_size=10_000,
    entity_noun="customers",
    prediction_sink=GOLD,
)
