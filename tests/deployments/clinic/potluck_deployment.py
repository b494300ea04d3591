"""A real-world-shaped CSV deployment that lives only in the tests: stroke in a clinic's
patient list (``id,age,bmi,smoking_status,postcode,stroke``).

The file has no timestamps at all (it is loaded with ``--time``), writes ``N/A`` for a
missing BMI, holds fractional ages and an ``Unknown`` smoking status, and lists every
positive label first. :func:`make_csv` writes such a file with a planted signal.
Selected with ``POTLUCK_DEPLOYMENT=<this folder>``; no oracle is declared.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
from feast import Entity, FeatureService, FeatureView, Field, ValueType
from feast.types import Float64, String

from potluck.deployment import Deployment, EntitySpec, LabelSpec, ModelDefaults, SourceSpec
from potluck.offline.source import PotluckSource

TS = pa.timestamp("us", tz="UTC")
PATIENTS = pa.schema(
    [
        ("id", pa.int64()),
        ("recorded_at", TS),
        ("age", pa.float64()),
        ("bmi", pa.float64()),
        ("smoking_status", pa.string()),
        ("postcode", pa.string()),
        ("stroke", pa.int64()),
    ]
)

DEPLOYMENT = Deployment(
    name="clinic",
    description="Stroke among a clinic's patients, from one exported CSV.",
    entities=(EntitySpec("patient", {"id": pa.int64()}),),
    sources={"patients": SourceSpec(PATIENTS, "recorded_at", "patient")},
    definitions=__name__,
    label=LabelSpec(source="patients", column="stroke", task="classification"),
    model=ModelDefaults(name="clinic_stroke", feature_service="clinic_v1"),
    entity_noun="patients",
)

patient = Entity(name="patient", join_keys=["id"], value_type=ValueType.INT64)
patient_profile = FeatureView(
    name="patient_profile",
    entities=[patient],
    ttl=timedelta(days=3650),
    schema=[
        Field(name="age", dtype=Float64),
        Field(name="bmi", dtype=Float64),
        Field(name="smoking_status", dtype=String),
        Field(name="postcode", dtype=String),
    ],
    source=PotluckSource(name="patients", timestamp_field="recorded_at"),
    online=True,
)
clinic_v1 = FeatureService(name="clinic_v1", features=[patient_profile])
OBJECTS = [patient, patient_profile, clinic_v1]

SMOKING = ["never smoked", "formerly smoked", "smokes", "Unknown"]


def make_csv(
    path: Path, rows: int = 1500, seed: int = 5, postcodes: int = 40, unique_postcodes: bool = False
) -> float:
    """Write the CSV (positives first); returns the share of positive rows.

    Planted signal: the log-odds rise with age and BMI and with smoking."""
    rng = np.random.default_rng(seed)
    age = np.round(rng.uniform(0.08, 90, rows), 2)  # infants have fractional ages
    bmi = np.round(rng.normal(28, 6, rows), 1)
    smoking = rng.choice(SMOKING, rows, p=[0.4, 0.2, 0.15, 0.25])
    logit = -7.5 + 0.07 * age + 0.06 * (bmi - 28) + np.where(smoking == "smokes", 1.0, 0.0)
    stroke = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    missing_bmi = rng.random(rows) < 0.05
    if unique_postcodes:
        codes = [f"Z{i:05d}" for i in range(rows)]
    else:
        codes = [f"P{c:03d}" for c in rng.integers(0, postcodes, rows)]
    order = np.argsort(-stroke, kind="stable")  # every positive first
    lines = ["id,age,bmi,smoking_status,postcode,stroke"]
    for i in order:
        shown_bmi = "N/A" if missing_bmi[i] else f"{bmi[i]}"
        lines.append(f"{i + 1},{age[i]},{shown_bmi},{smoking[i]},{codes[i]},{stroke[i]}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return float(stroke.mean())
