"""The synthetic healthcare generator: determinism, contract, ranges and the label model."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from potluck.domains.healthcare import synth
from potluck.domains.healthcare.schema import PII_COLUMNS, SOURCE_SCHEMAS

AS_OF = datetime(2025, 6, 1, tzinfo=UTC)
WINDOW_START = AS_OF - timedelta(days=730)


@pytest.fixture(scope="module")
def tables() -> dict[str, pa.Table]:
    return synth.generate(3000, 7, AS_OF)


@pytest.fixture(scope="module")
def frames(tables: dict[str, pa.Table]) -> dict[str, pd.DataFrame]:
    return {name: t.to_pandas() for name, t in tables.items()}


@pytest.fixture(scope="module")
def big_outcomes() -> pa.Table:
    return synth.generate(20_000, 2024, AS_OF)["stroke_outcomes"]


def _calendar_age(dob: date, on: date) -> int:
    return on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))


def test_same_arguments_give_identical_tables() -> None:
    first, second = synth.generate(400, 11, AS_OF), synth.generate(400, 11, AS_OF)
    assert all(first[name].equals(second[name]) for name in SOURCE_SCHEMAS)


def test_other_seed_or_anchor_gives_other_tables() -> None:
    base = synth.generate(400, 11, AS_OF)
    other_seed = synth.generate(400, 12, AS_OF)
    for name in SOURCE_SCHEMAS:
        assert not base[name].equals(other_seed[name]), name
    shifted = synth.generate(400, 11, AS_OF + timedelta(days=1))
    assert not base["clinical_measurements"].equals(shifted["clinical_measurements"])


def test_naive_as_of_is_taken_as_utc() -> None:
    naive = synth.generate(50, 3, AS_OF.replace(tzinfo=None))
    aware = synth.generate(50, 3, AS_OF)
    assert all(naive[name].equals(aware[name]) for name in SOURCE_SCHEMAS)


def test_rejects_an_empty_cohort() -> None:
    with pytest.raises(ValueError):
        synth.generate(0, 1, AS_OF)


def test_schemas_are_exactly_the_contract(tables: dict[str, pa.Table]) -> None:
    assert list(tables) == list(SOURCE_SCHEMAS)
    for name, table in tables.items():
        assert table.schema.equals(SOURCE_SCHEMAS[name], check_metadata=True), name
    for name, columns in PII_COLUMNS.items():
        assert columns <= set(tables[name].column_names)


def test_patient_ids_and_row_counts(frames: dict[str, pd.DataFrame]) -> None:
    demo = frames["patient_demographics"]
    assert demo.patient_id.tolist() == [f"P{i:08d}" for i in range(1, 3001)]
    per_patient = {
        "clinical_measurements": (1, 5),
        "lifestyle_data": (1, 3),
        "stroke_outcomes": (1, 2),
        "hospital_administration": (0, 3),
    }
    for name, (lo, hi) in per_patient.items():
        counts = frames[name].patient_id.value_counts().reindex(demo.patient_id, fill_value=0)
        assert counts.min() == lo and counts.max() == hi, name
    assert (frames["hospital_administration"].patient_id.value_counts() >= 1).all()


def test_ages_are_adult_and_at_most_95(frames: dict[str, pd.DataFrame]) -> None:
    demo = frames["patient_demographics"]
    ages = [_calendar_age(d.date(), AS_OF.date()) for d in demo.date_of_birth]
    assert min(ages) >= 18 and max(ages) <= 95
    assert 55 <= np.mean(ages) <= 70  # skewed older
    at_registration = [
        _calendar_age(d.date(), r.date())
        for d, r in zip(demo.date_of_birth, demo.registration_date, strict=True)
    ]
    assert min(at_registration) >= 18
    assert (demo.date_of_birth.dt.normalize() == demo.date_of_birth).all()


def test_every_event_lies_in_the_window(frames: dict[str, pd.DataFrame]) -> None:
    columns = {
        "clinical_measurements": ["visit_date"],
        "lifestyle_data": ["event_timestamp"],
        "stroke_outcomes": ["event_timestamp"],
        "hospital_administration": ["admission_date", "discharge_date"],
        "patient_demographics": ["registration_date"],
    }
    for name, cols in columns.items():
        for col in cols:
            values = frames[name][col].dropna()
            assert values.min() >= WINDOW_START and values.max() <= AS_OF, (name, col)
    reg = frames["patient_demographics"].registration_date
    assert reg.min() >= WINDOW_START and reg.max() <= AS_OF - timedelta(days=400)


def test_first_visit_and_survey_are_at_registration(frames: dict[str, pd.DataFrame]) -> None:
    reg = frames["patient_demographics"].set_index("patient_id").registration_date
    for name, col in [
        ("clinical_measurements", "visit_date"),
        ("lifestyle_data", "event_timestamp"),
    ]:
        first = frames[name].groupby("patient_id")[col].min()
        assert first.equals(reg.loc[first.index].rename(col)), name
    outcomes = frames["stroke_outcomes"]
    assert (outcomes.event_timestamp >= outcomes.patient_id.map(reg) + timedelta(days=30)).all()


def test_clinical_values_are_in_range_with_some_missing(frames: dict[str, pd.DataFrame]) -> None:
    c = frames["clinical_measurements"]
    assert c.avg_glucose_level.dropna().between(70, 280).all()
    assert c.bmi.dropna().between(15, 60).all()
    assert 0.002 <= c.avg_glucose_level.isna().mean() <= 0.025
    assert 0.015 <= c.bmi.isna().mean() <= 0.05
    assert 25 <= c.bmi.mean() <= 30 and 3 <= c.bmi.std() <= 7
    assert (c.blood_pressure_diastolic < c.blood_pressure_systolic).all()
    assert 65 <= c.heart_rate.mean() <= 79 and 170 <= c.cholesterol_level.mean() <= 210


def test_clinical_values_follow_the_conditions(frames: dict[str, pd.DataFrame]) -> None:
    flags = (
        frames["stroke_outcomes"].groupby("patient_id")[["hypertension", "heart_disease"]].first()
    )
    c = frames["clinical_measurements"].join(flags, on="patient_id")
    by_htn = c.groupby("hypertension").blood_pressure_systolic.mean()
    assert by_htn[1] - by_htn[0] > 20
    assert c.groupby("heart_disease").avg_glucose_level.mean().diff().iloc[-1] > 10


def test_condition_flags_are_constant_and_rise_with_age(frames: dict[str, pd.DataFrame]) -> None:
    o = frames["stroke_outcomes"]
    flags = ["hypertension", "heart_disease", "diabetes"]
    assert (o.groupby("patient_id")[flags].nunique() == 1).all().all()
    assert set(np.unique(o[flags].to_numpy())) <= {0, 1}
    demo = frames["patient_demographics"].set_index("patient_id")
    old = o.patient_id.map(demo.date_of_birth) < AS_OF - timedelta(days=365 * 65)
    assert o[old].hypertension.mean() > 1.5 * o[~old].hypertension.mean()


def test_smoking_status_is_consistent_per_patient(frames: dict[str, pd.DataFrame]) -> None:
    life = frames["lifestyle_data"].sort_values(["patient_id", "event_timestamp"])
    assert set(life.smoking_status) == {"never smoked", "smokes", "formerly smoked"}
    quitters = 0
    for _, statuses in life.groupby("patient_id").smoking_status:
        seq = statuses.tolist()
        if len(set(seq)) > 1:
            assert seq[0] == "smokes" and set(seq) == {"smokes", "formerly smoked"}
            assert seq == sorted(seq, key=lambda s: s != "smokes")  # never back to smoking
            quitters += 1
    assert quitters > 0
    assert life.stress_level.between(1, 10).all()


def test_admissions_are_well_formed(frames: dict[str, pd.DataFrame]) -> None:
    h = frames["hospital_administration"].sort_values(["patient_id", "admission_date"])
    open_stay = h.discharge_date.isna()
    assert (open_stay == (h.discharge_status == "Admitted")).all()
    assert set(h.discharge_status[~open_stay]) == {"Discharged", "Transferred"}
    stay = (h.discharge_date - h.admission_date)[~open_stay]
    assert stay.min() >= timedelta(days=1) and stay.max() <= timedelta(days=20)
    next_admission = h.groupby("patient_id").admission_date.shift(-1)
    assert not (h.discharge_date.fillna(AS_OF) > next_admission).any()  # no overlapping stays
    assert h.hospital_id.str.fullmatch(r"H0(0[1-9]|1[0-9]|20)").all()
    assert h.medical_record_number.str.fullmatch(r"MRN\d{8}").all()


def test_demographic_values(frames: dict[str, pd.DataFrame]) -> None:
    d = frames["patient_demographics"]
    assert set(d.gender) == {"Male", "Female", "Other"}
    assert d.gender.eq("Other").mean() < 0.03
    assert set(d.healthcare_region) == {f"Region_{i}" for i in range(1, 6)}
    assert d.postal_code.str.fullmatch(r"[A-Z]\d[A-Z] \d[A-Z]\d").all()
    assert d.insurance_id.str.fullmatch(r"INS\d{9}").all()
    assert set(d.blood_type) <= {"O+", "A+", "B+", "AB+", "O-", "A-", "B-", "AB-"}


def test_stroke_details_only_with_a_stroke(frames: dict[str, pd.DataFrame]) -> None:
    o = frames["stroke_outcomes"]
    stroke = o.stroke_occurred == 1
    for col in ["stroke_date", "stroke_severity", "recovery_status"]:
        assert (o[col].notna() == stroke).all(), col
    delay = (o.stroke_date - o.event_timestamp)[stroke]
    assert delay.min() >= timedelta(days=1) and delay.max() <= timedelta(days=365)
    assert set(o.stroke_severity.dropna()) == {"Mild", "Moderate", "Severe"}
    assert o.stroke_probability.between(0, 1).all()


def test_prevalence_and_oracle_auc(big_outcomes: pa.Table) -> None:
    prevalence = np.mean(big_outcomes.column("stroke_occurred").to_numpy())
    assert 0.10 <= prevalence <= 0.15
    assert 0.80 <= synth.oracle_auc(big_outcomes) <= 0.88


def test_labels_are_calibrated_draws_of_the_probability(big_outcomes: pa.Table) -> None:
    o = big_outcomes.select(["stroke_occurred", "stroke_probability"]).to_pandas()
    decile = pd.qcut(o.stroke_probability, 10, labels=False)
    by_decile = o.groupby(decile).mean()
    assert by_decile.stroke_occurred.iloc[-1] > 8 * by_decile.stroke_occurred.iloc[0]
    expected, observed = by_decile.stroke_probability, by_decile.stroke_occurred
    n = len(o) / 10
    assert (abs(observed - expected) < 4 * np.sqrt(expected * (1 - expected) / n) + 1e-3).all()


def test_probability_follows_the_stated_logistic_model() -> None:
    """For never-smokers, logit(p2) - logit(p1) = (B_AGE + 0.012·0.08)·Δage + 1.0·prior_stroke."""
    t = synth.generate(4000, 5, AS_OF)
    o = t["stroke_outcomes"].to_pandas()
    never = t["lifestyle_data"].to_pandas().groupby("patient_id").smoking_status.agg(set)
    o = o[o.patient_id.map(never) == {"never smoked"}]
    pairs = (
        o.groupby("patient_id")
        .filter(lambda g: len(g) == 2)
        .sort_values(["patient_id", "event_timestamp"])
    )
    first, second = pairs.iloc[::2].reset_index(), pairs.iloc[1::2].reset_index()
    logit = lambda p: np.log(p / (1 - p))  # noqa: E731
    delta = logit(second.stroke_probability) - logit(first.stroke_probability)
    years = (second.event_timestamp - first.event_timestamp) / timedelta(days=365.25)
    prior = (first.stroke_date < second.event_timestamp).astype(float)
    residual = delta - (synth.B_AGE + 0.012 * 0.08) * years - 1.0 * prior
    assert prior.sum() > 5
    assert (residual.abs() < 1e-6).mean() > 0.97  # the rest: glucose clipped at 70 or 280


def test_oracle_auc_on_a_hand_example() -> None:
    outcomes = pa.table(
        {"stroke_occurred": [0, 1, 0, 1], "stroke_probability": [0.1, 0.7, 0.8, 0.9]}
    )
    assert synth.oracle_auc(outcomes) == pytest.approx(0.75)
