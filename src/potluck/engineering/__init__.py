"""Computed features: small pure functions (:mod:`.functions`) evaluated point-in-time by
the pandas/DuckDB engine (:mod:`.pipeline`)."""

from potluck.engineering.functions import (
    age,
    age_group,
    bmi_category,
    condition_count,
    days_since_admission,
    days_since_stroke,
    discharge_status,
    glucose_category,
    has_multiple_conditions,
    is_currently_admitted,
    risk_category,
    risk_score,
    was_hospitalized,
)
from potluck.engineering.pipeline import compute, snapshot_times

__all__ = [
    "age",
    "age_group",
    "bmi_category",
    "compute",
    "condition_count",
    "days_since_admission",
    "days_since_stroke",
    "discharge_status",
    "glucose_category",
    "has_multiple_conditions",
    "is_currently_admitted",
    "risk_category",
    "risk_score",
    "snapshot_times",
    "was_hospitalized",
]
