"""The Feast objects of the stroke-risk deployment, declared once for every profile.

Every view reads a :class:`PotluckSource` naming a *logical* source; the
profile decides which system serves it. PII fields carry the tag
``pii: "true"`` and are never part of a feature service; the label
``stroke_occurred`` is never part of any view.
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
from feast import Entity, FeatureService, FeatureView, Field, ValueType
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Float64, Int64, String, UnixTimestamp

from potluck.domains.healthcare import functions as fn
from potluck.offline.source import PotluckSource

__all__ = [
    "FEATURE_SERVICES",
    "FEATURE_VIEWS",
    "OBJECTS",
    "clinical_statistics",
    "computed_risk_metrics",
    "hospitalization_metrics",
    "lifestyle_factors",
    "medical_conditions",
    "patient",
    "patient_demographics",
    "request_time_features",
    "stroke_risk_full",
    "stroke_risk_v1",
]

OWNER = "clinical-data-platform@potluck.example"
PII = {"pii": "true"}

patient = Entity(
    name="patient",
    join_keys=["patient_id"],
    value_type=ValueType.STRING,
    description="A patient of the hospital network, keyed P00000001...",
)


def _view(
    name: str,
    ttl_days: int,
    source: PotluckSource,
    fields: list[Field],
    description: str,
    **tags: str,
) -> FeatureView:
    return FeatureView(
        name=name,
        entities=[patient],
        ttl=timedelta(days=ttl_days),
        schema=fields,
        source=source,
        online=True,
        description=description,
        owner=OWNER,
        tags={"domain": "healthcare", **tags},
    )


clinical_statistics = _view(
    "clinical_statistics",
    365,
    PotluckSource(name="clinical_measurements", timestamp_field="visit_date"),
    [
        Field(
            name="avg_glucose_level",
            dtype=Float64,
            description="Average glucose (mg/dL) at the latest visit",
        ),
        Field(name="bmi", dtype=Float64, description="Body-mass index at the latest visit"),
        Field(name="blood_pressure_systolic", dtype=Int64, description="Systolic BP (mmHg)"),
        Field(name="blood_pressure_diastolic", dtype=Int64, description="Diastolic BP (mmHg)"),
        Field(name="heart_rate", dtype=Int64, description="Resting heart rate (bpm)"),
        Field(name="cholesterol_level", dtype=Float64, description="Total cholesterol (mg/dL)"),
    ],
    "Vital signs and labs from the latest clinical visit within a year.",
    freshness_target="400d",
)

lifestyle_factors = _view(
    "lifestyle_factors",
    180,
    PotluckSource(name="lifestyle_data", timestamp_field="event_timestamp"),
    [
        Field(
            name="smoking_status",
            dtype=String,
            description="never smoked | smokes | formerly smoked",
        ),
        Field(name="exercise_frequency", dtype=String),
        Field(name="alcohol_consumption", dtype=String),
        Field(name="diet_type", dtype=String),
        Field(name="stress_level", dtype=Int64, description="Self-reported stress 1-10"),
    ],
    "Latest lifestyle survey within 180 days.",
    freshness_target="200d",
)

medical_conditions = _view(
    "medical_conditions",
    3650,
    PotluckSource(name="stroke_outcomes", timestamp_field="event_timestamp"),
    [
        Field(name="hypertension", dtype=Int64, description="1 if diagnosed with hypertension"),
        Field(name="heart_disease", dtype=Int64, description="1 if diagnosed with heart disease"),
        Field(name="diabetes", dtype=Int64, description="1 if diagnosed with diabetes"),
    ],
    "Diagnosed conditions at the latest assessment. Never the outcome (label) columns.",
    freshness_target="400d",
)

patient_demographics = _view(
    "patient_demographics",
    3650,
    PotluckSource(name="patient_demographics", timestamp_field="registration_date"),
    [
        Field(name="gender", dtype=String),
        Field(name="blood_type", dtype=String),
        Field(name="province", dtype=String),
        Field(name="healthcare_region", dtype=String, description="Region_1..Region_5"),
        Field(name="insurance_type", dtype=String),
        Field(
            name="date_of_birth",
            dtype=UnixTimestamp,
            description="Used to derive age at event time",
            tags=PII,
        ),
        Field(name="first_name", dtype=String, tags=PII),
        Field(name="last_name", dtype=String, tags=PII),
        Field(name="insurance_id", dtype=String, tags=PII),
    ],
    "Registration demographics. Age is derived at event time by request_time_features.",
    freshness_target="730d",
)

hospitalization_metrics = _view(
    "hospitalization_metrics",
    730,
    PotluckSource(name="hospitalization_metrics", timestamp_field="event_timestamp"),
    [
        Field(name="was_hospitalized", dtype=Int64, description=fn.was_hospitalized.__doc__ or ""),
        Field(
            name="days_since_admission",
            dtype=Int64,
            description=fn.days_since_admission.__doc__ or "",
        ),
        Field(
            name="is_currently_admitted",
            dtype=Int64,
            description=fn.is_currently_admitted.__doc__ or "",
        ),
        Field(name="department", dtype=String, description="Department of the latest admission"),
        Field(
            name="discharge_status",
            dtype=String,
            description="Discharged | Admitted | Transferred, as of the event",
        ),
    ],
    "Hospital admissions summarized point-in-time (engineered from hospital_administration).",
    freshness_target="7d",
)

computed_risk_metrics = _view(
    "computed_risk_metrics",
    30,
    PotluckSource(name="computed_risk_metrics", timestamp_field="event_timestamp"),
    [
        Field(name="risk_score", dtype=Float64, description=fn.risk_score.__doc__ or ""),
        Field(name="age_group", dtype=String, description=fn.age_group.__doc__ or ""),
        Field(name="risk_category", dtype=String, description=fn.risk_category.__doc__ or ""),
        Field(name="condition_count", dtype=Int64, description=fn.condition_count.__doc__ or ""),
        Field(
            name="has_multiple_conditions",
            dtype=Int64,
            description=fn.has_multiple_conditions.__doc__ or "",
        ),
        Field(
            name="days_since_stroke", dtype=Int64, description=fn.days_since_stroke.__doc__ or ""
        ),
    ],
    "Engineered risk features computed as of each snapshot time.",
    freshness_target="7d",
)


@on_demand_feature_view(  # type: ignore[untyped-decorator]
    sources=[
        clinical_statistics[["bmi", "avg_glucose_level"]],
        patient_demographics[["date_of_birth"]],
    ],
    schema=[
        # No per-field descriptions: Feast checks these fields against the ones it
        # infers by running the UDF, descriptions included.
        Field(name="age", dtype=Int64),
        Field(name="bmi_category", dtype=String),
        Field(name="glucose_category", dtype=String),
    ],
    mode="pandas",
    # the plain-Python twin the online read path uses for small batches, once it has
    # agreed with this UDF on its probe (potluck.online._odfv)
    tags={"potluck.kernel": "potluck.domains.healthcare.kernels:REQUEST_TIME_FEATURES"},
    description=(
        "Request-time features: age in whole years as of the event time (request time online); "
        "bmi_category underweight <18.5 <= normal < 25 <= overweight < 30 <= obese; "
        "glucose_category normal < 100 <= prediabetic < 126 <= diabetic (mg/dL)."
    ),
    owner=OWNER,
)
def request_time_features(inputs: pd.DataFrame) -> pd.DataFrame:
    # Feast may rebuild this function from its source text, without this module's
    # globals: everything it uses is imported here.
    import pandas as pd

    from potluck.domains.healthcare import functions as fn

    # fn.age takes timestamps or ISO text as they come: pd.to_datetime on a column that
    # already holds timestamps costs ~0.15 s per million rows (its cache heuristic)
    if "event_timestamp" in inputs.columns:
        at = inputs["event_timestamp"]
    else:
        at = pd.Series(pd.Timestamp.now(tz="UTC"), index=inputs.index)
    out = pd.DataFrame(index=inputs.index)
    out["age"] = fn.age(inputs["date_of_birth"], at).astype("Int64")
    out["bmi_category"] = fn.bmi_category(inputs["bmi"])
    out["glucose_category"] = fn.glucose_category(inputs["avg_glucose_level"])
    return out


FEATURE_VIEWS = [
    clinical_statistics,
    lifestyle_factors,
    medical_conditions,
    patient_demographics,
    hospitalization_metrics,
    computed_risk_metrics,
]


def _public(view: FeatureView) -> list[str]:
    return [f.name for f in view.features if f.tags.get("pii") != "true"]


stroke_risk_v1 = FeatureService(
    name="stroke_risk_v1",
    features=[
        patient_demographics[["gender"]],
        request_time_features[["age"]],
        clinical_statistics[["avg_glucose_level", "bmi", "blood_pressure_systolic"]],
        lifestyle_factors[["smoking_status"]],
        medical_conditions[["hypertension", "heart_disease"]],
        computed_risk_metrics[["risk_score", "condition_count"]],
        hospitalization_metrics[["was_hospitalized"]],
    ],
    description="The production stroke-risk model's features.",
    owner=OWNER,
)

stroke_risk_full = FeatureService(
    name="stroke_risk_full",
    features=[view[_public(view)] for view in FEATURE_VIEWS] + [request_time_features],
    description="Every non-PII, non-label feature.",
    owner=OWNER,
)

FEATURE_SERVICES = [stroke_risk_v1, stroke_risk_full]
OBJECTS = [patient, *FEATURE_VIEWS, request_time_features, *FEATURE_SERVICES]


# -- push sources: fresh rows served online and stored offline in one call -----------------
# `potluck push clinical_push --file rows.parquet` (Feast PushMode.ONLINE_AND_OFFLINE) writes
# the rows into the online store and appends them to the view's own source system. Attached
# after the views are built so the definitions above stay as they are: Feast's FeatureView
# does exactly this (stream_source = the push source, batch_source = its batch source) when
# given a PushSource.
from feast.data_source import PushSource  # noqa: E402 - this section is appended

clinical_push = PushSource(name="clinical_push", batch_source=clinical_statistics.batch_source)
hospitalization_push = PushSource(
    name="hospitalization_push", batch_source=hospitalization_metrics.batch_source
)
clinical_statistics.stream_source = clinical_push
hospitalization_metrics.stream_source = hospitalization_push
PUSH_SOURCES = [clinical_push, hospitalization_push]
__all__ += ["PUSH_SOURCES", "clinical_push", "hospitalization_push"]
