"""The data contract of the healthcare deployment: the five logical sources.

These are the upstream generator's schemas (see DESIGN.md). Every timestamp is
``timestamp[us, tz=UTC]``; ``patient_id`` is a string like ``P00000001``.
PII columns are listed in :data:`PII_COLUMNS`; they are stored in the sources
(as the hospital systems hold them) but never become served features.
"""

from __future__ import annotations

import pyarrow as pa

__all__ = [
    "ENGINEERED_SCHEMAS",
    "JOIN_KEY",
    "LABEL",
    "LABEL_DERIVED",
    "PII_COLUMNS",
    "SOURCE_SCHEMAS",
    "TIMESTAMP_FIELDS",
]

JOIN_KEY = "patient_id"
LABEL = "stroke_occurred"
TS = pa.timestamp("us", tz="UTC")

SOURCE_SCHEMAS: dict[str, pa.Schema] = {
    "clinical_measurements": pa.schema(
        [
            ("patient_id", pa.string()),
            ("visit_date", TS),
            ("avg_glucose_level", pa.float64()),
            ("bmi", pa.float64()),
            ("blood_pressure_systolic", pa.int64()),
            ("blood_pressure_diastolic", pa.int64()),
            ("heart_rate", pa.int64()),
            ("cholesterol_level", pa.float64()),
        ]
    ),
    "patient_demographics": pa.schema(
        [
            ("patient_id", pa.string()),
            ("first_name", pa.string()),
            ("last_name", pa.string()),
            ("date_of_birth", TS),
            ("gender", pa.string()),
            ("blood_type", pa.string()),
            ("province", pa.string()),
            ("city", pa.string()),
            ("postal_code", pa.string()),
            ("healthcare_region", pa.string()),
            ("insurance_type", pa.string()),
            ("insurance_id", pa.string()),
            ("registration_date", TS),
        ]
    ),
    "hospital_administration": pa.schema(
        [
            ("patient_id", pa.string()),
            ("hospital_id", pa.string()),
            ("medical_record_number", pa.string()),
            ("department", pa.string()),
            ("attending_physician", pa.string()),
            ("admission_date", TS),
            ("discharge_date", TS),  # null while the patient is still admitted
            ("discharge_status", pa.string()),  # Discharged | Admitted | Transferred
        ]
    ),
    "lifestyle_data": pa.schema(
        [
            ("patient_id", pa.string()),
            ("event_timestamp", TS),
            ("smoking_status", pa.string()),  # never smoked | smokes | formerly smoked
            ("exercise_frequency", pa.string()),
            ("alcohol_consumption", pa.string()),
            ("diet_type", pa.string()),
            ("stress_level", pa.int64()),
        ]
    ),
    "stroke_outcomes": pa.schema(
        [
            ("patient_id", pa.string()),
            ("event_timestamp", TS),  # the assessment date
            ("hypertension", pa.int64()),
            ("heart_disease", pa.int64()),
            ("diabetes", pa.int64()),
            ("stroke_occurred", pa.int64()),  # the LABEL: stroke within a year of the assessment
            ("stroke_probability", pa.float64()),  # the generator's true probability (oracle)
            ("stroke_severity", pa.string()),
            ("stroke_date", TS),
            ("recovery_status", pa.string()),
        ]
    ),
}

TIMESTAMP_FIELDS: dict[str, str] = {
    "clinical_measurements": "visit_date",
    "patient_demographics": "registration_date",
    "hospital_administration": "admission_date",
    "lifestyle_data": "event_timestamp",
    "stroke_outcomes": "event_timestamp",
}

# Outputs of the engineering step, one row per patient per snapshot time.
ENGINEERED_SCHEMAS: dict[str, pa.Schema] = {
    "computed_risk_metrics": pa.schema(
        [
            ("patient_id", pa.string()),
            ("event_timestamp", TS),
            ("risk_score", pa.float64()),
            ("age_group", pa.string()),
            ("risk_category", pa.string()),
            ("condition_count", pa.int64()),
            ("has_multiple_conditions", pa.int64()),
            ("days_since_stroke", pa.int64()),
        ]
    ),
    "hospitalization_metrics": pa.schema(
        [
            ("patient_id", pa.string()),
            ("event_timestamp", TS),
            ("was_hospitalized", pa.int64()),
            ("days_since_admission", pa.int64()),
            ("is_currently_admitted", pa.int64()),
            ("department", pa.string()),
            ("discharge_status", pa.string()),
        ]
    ),
}

# Identifying columns: stored, never served, trained on or returned (the contract decides,
# whatever a request's tags say). date_of_birth only feeds age, computed at event time.
PII_COLUMNS: dict[str, frozenset[str]] = {
    "patient_demographics": frozenset(
        {"first_name", "last_name", "insurance_id", "date_of_birth", "city", "postal_code"}
    ),
    "hospital_administration": frozenset({"medical_record_number", "attending_physician"}),
}

# Columns computed from the label (or known only once it is): never features.
LABEL_DERIVED: frozenset[str] = frozenset(
    {"stroke_probability", "stroke_severity", "stroke_date", "recovery_status"}
)
