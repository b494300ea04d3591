"""The healthcare stroke-risk deployment, declared on the Deployment seam.

Its data contract is :mod:`.schema`; its Feast objects :mod:`.features`; its
engineered features the pure functions of :mod:`.functions`, wired by name;
its generator :mod:`.synth` (the label is drawn from a known logistic model, so
the oracle AUC of ``stroke_probability`` is the best a model can reach).
"""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa

from potluck.deployment import (
    AsOfInput,
    Binding,
    Deployment,
    EngineeringSpec,
    EntitySpec,
    LabelSpec,
    MaxAtOrBefore,
    ModelDefaults,
    SourceSpec,
)
from potluck.domains.healthcare.schema import (
    ENGINEERED_SCHEMAS,
    JOIN_KEY,
    LABEL,
    LABEL_DERIVED,
    PII_COLUMNS,
    SOURCE_SCHEMAS,
    TIMESTAMP_FIELDS,
)

__all__ = ["DEPLOYMENT", "ENGINEERING", "KEYS", "engineer", "snapshots"]

_SQLITE = Binding("sqlite", {"file": "hospital.db"})
_LAKE = {
    "embedded": Binding("parquet", {"folder": "lake"}),
    "services": Binding("s3", {"prefix": "lake"}),
}
_BINDINGS: dict[str, dict[str, Binding]] = {
    "clinical_measurements": {"embedded": _SQLITE, "services": Binding("postgres")},
    "patient_demographics": {
        "embedded": Binding("jsonl", {"folder": "documents"}),
        "services": Binding("mongodb"),
    },
    "hospital_administration": {"embedded": _SQLITE, "services": Binding("mssql")},
    "lifestyle_data": _LAKE,
    "stroke_outcomes": _LAKE,
}


def _generate(size: int, seed: int, as_of: datetime) -> dict[str, pa.Table]:
    from potluck.domains.healthcare.synth import generate

    return generate(size, seed, as_of)


_SOURCES = {
    name: SourceSpec(
        schema=schema,
        timestamp_field=TIMESTAMP_FIELDS[name],
        entity="patient",
        pii=PII_COLUMNS.get(name, frozenset()),
        label_derived=LABEL_DERIVED & frozenset(schema.names),
        bindings=_BINDINGS[name],
    )
    for name, schema in SOURCE_SCHEMAS.items()
}
_ENGINEERED = {
    name: SourceSpec(
        schema=schema, timestamp_field="event_timestamp", entity="patient", engineered=True
    )
    for name, schema in ENGINEERED_SCHEMAS.items()
}

ENGINEERING = EngineeringSpec(
    anchor="stroke_outcomes",
    anchor_timestamp="event_timestamp",
    inputs={
        "patient_demographics": AsOfInput("registration_date", {"date_of_birth": "date_of_birth"}),
        "clinical_measurements": AsOfInput(
            "visit_date", {"avg_glucose_level": "avg_glucose_level", "bmi": "bmi"}
        ),
        "lifestyle_data": AsOfInput("event_timestamp", {"smoking_status": "smoking_status"}),
        "stroke_outcomes": AsOfInput(
            "event_timestamp",
            {c: c for c in ("hypertension", "heart_disease", "diabetes")},
        ),
        "hospital_administration": AsOfInput(
            "admission_date",
            {
                "admission_date": "last_admission_date",
                "discharge_date": "last_discharge_date",
                "department": "department",
                "discharge_status": "recorded_discharge_status",
            },
        ),
    },
    running_max=(
        MaxAtOrBefore("stroke_outcomes", "event_timestamp", "stroke_date", "last_stroke_date"),
    ),
    outputs=ENGINEERED_SCHEMAS,
    modules=("potluck.domains.healthcare.functions",),
)

DEPLOYMENT = Deployment(
    name="healthcare",
    description="Stroke-risk prediction over five hospital systems.",
    entities=(
        EntitySpec(
            "patient",
            {JOIN_KEY: pa.string()},
            "A patient of the hospital network, keyed P00000001...",
        ),
    ),
    sources={**_SOURCES, **_ENGINEERED},
    definitions="potluck.domains.healthcare.features",
    label=LabelSpec(
        source="stroke_outcomes",
        column=LABEL,
        task="classification",
        positive=1,
        derived=LABEL_DERIVED,
        oracle_column="stroke_probability",
    ),
    model=ModelDefaults(name="stroke_risk", feature_service="stroke_risk_v1"),
    engineering=ENGINEERING,
    generate=_generate,
    default_size=10_000,
    entity_noun="patients",
)


# -- conveniences for tests and benchmarks: the generic engine on this deployment ----------
KEYS = {JOIN_KEY: pa.string()}


def snapshots(outcomes: pa.Table, as_of: datetime) -> pa.Table:
    """Snapshot times of the engineered views: every assessment plus ``as_of``."""
    from potluck.engineering.pipeline import snapshot_times

    return snapshot_times(outcomes, KEYS, ENGINEERING.anchor_timestamp, as_of)


def engineer(
    tables: dict[str, pa.Table], snaps: pa.Table, spark: object = None
) -> dict[str, pa.Table]:
    """The engineered views at ``snaps`` (pandas/DuckDB engine; Spark when given a session)."""
    if spark is not None:
        from potluck.engineering import spark_engine

        return spark_engine.compute(ENGINEERING, KEYS, tables, snaps, spark)  # type: ignore[arg-type]
    from potluck.engineering.pipeline import compute

    return compute(ENGINEERING, KEYS, tables, snaps)
