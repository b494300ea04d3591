"""The fraud deployment, declared on the Deployment seam.

Two event sources, card ``transactions`` (the label source: every transaction is a
label row, scored at its own time) and the ``clickstream``; Parquet on the embedded
profile, S3 Parquet on services. Its data contract is :mod:`.schema`, its Feast objects
:mod:`.features` (window views and on-demand scores), its generator :mod:`.synth` (the
label drawn from a known logistic model of the card's windows: the oracle AUC of
``fraud_probability``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pyarrow as pa

from potluck.deployment import (
    DemoStream,
    Deployment,
    EntitySpec,
    LabelSpec,
    ModelDefaults,
    SourceSpec,
)
from potluck.domains.fraud.schema import (
    LABEL,
    LABEL_DERIVED,
    ORACLE,
    PII_COLUMNS,
    SOURCE_SCHEMAS,
    TIMESTAMP_FIELDS,
)

__all__ = ["DEPLOYMENT"]


def _generate(size: int, seed: int, as_of: datetime) -> dict[str, pa.Table]:
    from potluck.domains.fraud.synth import generate

    return generate(size, seed, as_of)


_ENTITY = {"transactions": "card", "clickstream": "session"}
_DESCRIPTION = {
    "transactions": "Card authorizations, one event per transaction (with the chargeback label)",
    "clickstream": "Web/app events of sessions: page views, scrolls, cart adds, purchases",
}

DEPLOYMENT = Deployment(
    name="fraud",
    description=(
        "Real-time card fraud scoring and session personalization from event streams, "
        "with exact sliding-window features."
    ),
    entities=(
        EntitySpec("card", {"card_id": pa.string()}, "A payment card, keyed card_00001..."),
        EntitySpec("user", {"user_id": pa.string()}, "A customer, keyed user_00001..."),
        EntitySpec("device", {"device_id": pa.string()}, "A device fingerprint, dev_000001..."),
        EntitySpec("session", {"session_id": pa.string()}, "A session, keyed sess_000001..."),
    ),
    sources={
        name: SourceSpec(
            schema=schema,
            timestamp_field=TIMESTAMP_FIELDS[name],
            entity=_ENTITY[name],
            pii=PII_COLUMNS.get(name, frozenset()),
            label_derived=LABEL_DERIVED[name],
            description=_DESCRIPTION[name],
        )
        for name, schema in SOURCE_SCHEMAS.items()
    },
    definitions="potluck.domains.fraud.features",
    label=LabelSpec(
        source="transactions",
        column=LABEL,
        task="classification",
        positive=1,
        derived=LABEL_DERIVED["transactions"],
        oracle_column=ORACLE,
    ),
    model=ModelDefaults(name="card_fraud", feature_service="fraud_detection_v1"),
    generate=_generate,
    default_size=2_000,
    entity_noun="cards",
    # the demo's live part: the last hour of transactions arrives on the stream
    demo_stream=DemoStream(source="transactions", hold_back=timedelta(hours=1), alert_at=0.3),
)
