"""The engineering pipeline: a brute-force point-in-time reference, leakage and null rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from potluck.domains.healthcare import synth
from potluck.domains.healthcare.deployment import engineer as compute
from potluck.domains.healthcare.deployment import snapshots as snapshot_times
from potluck.domains.healthcare.schema import ENGINEERED_SCHEMAS, SOURCE_SCHEMAS

BASE = datetime(2020, 1, 1, tzinfo=UTC)
AS_OF = datetime(2025, 6, 1, tzinfo=UTC)
PIDS = ["P1", "P2", "P3"]
TS = pa.timestamp("us", tz="UTC")
SNAPSHOTS = pa.schema([("patient_id", pa.string()), ("event_timestamp", TS)])
TS_COLUMN = {
    "patient_demographics": "registration_date",
    "clinical_measurements": "visit_date",
    "lifestyle_data": "event_timestamp",
    "stroke_outcomes": "event_timestamp",
    "hospital_administration": "admission_date",
}

# ---------------------------------------------------------------- datasets
times = st.builds(
    lambda d, h: BASE + timedelta(days=d, hours=h),
    st.integers(0, 12),
    st.sampled_from([0, 0, 12, 23]),
)
maybe_times = st.one_of(st.none(), times)
flag = st.sampled_from([None, 0, 1])
pid = st.sampled_from(PIDS)
dobs = st.builds(
    lambda d: datetime.combine(d, datetime.min.time(), UTC),
    st.sampled_from([date(1960, 1, 5), date(1960, 1, 6), date(1992, 2, 29), date(2000, 12, 31)]),
)


@dataclass
class Dataset:
    tables: dict[str, pa.Table]
    snapshots: pa.Table


def table(name: str, rows: list[dict[str, Any]]) -> pa.Table:
    schema = SOURCE_SCHEMAS[name]
    return pa.table(
        {f.name: pa.array([r.get(f.name) for r in rows], f.type) for f in schema}, schema=schema
    )


@st.composite
def datasets(draw: st.DrawFn) -> Dataset:
    def rows(**fields: st.SearchStrategy[Any]) -> list[dict[str, Any]]:
        return draw(st.lists(st.fixed_dictionaries(fields), max_size=6))

    demo = rows(patient_id=pid, registration_date=times, date_of_birth=dobs)
    clinical = rows(
        patient_id=pid,
        visit_date=times,
        avg_glucose_level=st.one_of(st.none(), st.floats(60, 300)),
        bmi=st.one_of(st.none(), st.floats(14, 50)),
    )
    life = rows(
        patient_id=pid,
        event_timestamp=times,
        smoking_status=st.sampled_from([None, "never smoked", "smokes", "formerly smoked"]),
    )
    outcomes = rows(
        patient_id=pid,
        event_timestamp=times,
        hypertension=flag,
        heart_disease=flag,
        diabetes=flag,
        stroke_date=maybe_times,
    )
    admissions = [
        {**r, "discharge_date": None if r["stay"] is None else r["admission_date"] + r["stay"]}
        for r in rows(
            patient_id=pid,
            admission_date=times,
            stay=st.one_of(st.none(), st.sampled_from([timedelta(0), timedelta(hours=12)])),
            department=st.sampled_from(["Cardiology", "Neurology", None]),
            discharge_status=st.sampled_from(["Discharged", "Transferred", "Admitted"]),
        )
    ]
    snaps = draw(st.lists(st.tuples(st.sampled_from([*PIDS, "P9"]), times), min_size=1, max_size=8))
    return Dataset(
        {
            "patient_demographics": table("patient_demographics", demo),
            "clinical_measurements": table("clinical_measurements", clinical),
            "lifestyle_data": table("lifestyle_data", life),
            "stroke_outcomes": table("stroke_outcomes", outcomes),
            "hospital_administration": table("hospital_administration", admissions),
        },
        pa.table(
            {"patient_id": [p for p, _ in snaps], "event_timestamp": [t for _, t in snaps]},
            schema=SNAPSHOTS,
        ),
    )


# ---------------------------------------------------------------- reference
def latest(rows: list[dict[str, Any]], key: str, pid: str, t: datetime) -> dict[str, Any] | None:
    """The row of ``pid`` with the greatest ``key`` <= t; ties go to the last row."""
    best: tuple[datetime, int] | None = None
    for i, r in enumerate(rows):
        usable = r["patient_id"] == pid and r[key] is not None and r[key] <= t
        if usable and (best is None or (r[key], i) >= best):
            best = (r[key], i)
    return None if best is None else rows[best[1]]


def reference(data: Dataset) -> dict[str, list[dict[str, Any]]]:
    src = {name: t.to_pylist() for name, t in data.tables.items()}
    risk, hosp = [], []
    for snap in data.snapshots.to_pylist():
        p, t = snap["patient_id"], snap["event_timestamp"]
        demo = latest(src["patient_demographics"], "registration_date", p, t)
        visit = latest(src["clinical_measurements"], "visit_date", p, t)
        survey = latest(src["lifestyle_data"], "event_timestamp", p, t)
        outcome = latest(src["stroke_outcomes"], "event_timestamp", p, t)
        stay = latest(src["hospital_administration"], "admission_date", p, t)
        strokes = [
            o["stroke_date"]
            for o in src["stroke_outcomes"]
            if o["patient_id"] == p
            and o["event_timestamp"] <= t
            and o["stroke_date"] is not None
            and o["stroke_date"] <= t
        ]
        age = None
        if demo is not None:
            dob = demo["date_of_birth"]
            age = t.year - dob.year - ((t.month, t.day) < (dob.month, dob.day))
        flags = [
            None if outcome is None else outcome[k]
            for k in ("hypertension", "heart_disease", "diabetes")
        ]
        glucose = None if visit is None else visit["avg_glucose_level"]
        bmi = None if visit is None else visit["bmi"]
        smoking = None if survey is None else survey["smoking_status"]
        score: float | None = None
        if any(v is not None for v in [age, *flags, glucose, bmi, smoking]):
            total = 0.0
            total += 0.0 if age is None else min(age, 90) / 90 * 30
            for v, pts in zip(flags, (15.0, 15.0, 10.0), strict=True):
                total += pts if v else 0.0
            total += 0.0 if glucose is None else float(np.clip((glucose - 100) / 100, 0, 1)) * 10
            total += 0.0 if bmi is None else float(np.clip((bmi - 25) / 15, 0, 1)) * 10
            total += {"smokes": 10.0, "formerly smoked": 5.0}.get(smoking or "", 0.0)
            score = float(np.round(total, 1))
        count = None if all(v is None for v in flags) else sum(1 for v in flags if v)
        risk.append(
            {
                "patient_id": p,
                "event_timestamp": t,
                "risk_score": score,
                "age_group": None
                if age is None or age < 18
                else "18-39"
                if age < 40
                else "40-59"
                if age < 60
                else "60-74"
                if age < 75
                else "75+",
                "risk_category": None
                if score is None
                else "low"
                if score < 30
                else "moderate"
                if score < 60
                else "high",
                "condition_count": count,
                "has_multiple_conditions": None if count is None else int(count >= 2),
                "days_since_stroke": (t - max(strokes)).days if strokes else None,
            }
        )
        in_hospital = stay is not None and (
            stay["discharge_date"] is None or stay["discharge_date"] > t
        )
        hosp.append(
            {
                "patient_id": p,
                "event_timestamp": t,
                "was_hospitalized": int(stay is not None),
                "days_since_admission": None if stay is None else (t - stay["admission_date"]).days,
                "is_currently_admitted": int(in_hospital),
                "department": None if stay is None else stay["department"],
                "discharge_status": None
                if stay is None
                else "Admitted"
                if in_hospital
                else stay["discharge_status"],
            }
        )
    return {"computed_risk_metrics": risk, "hospitalization_metrics": hosp}


# ---------------------------------------------------------------- tests
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(datasets())
def test_compute_matches_a_brute_force_reference(data: Dataset) -> None:
    out = compute(data.tables, data.snapshots)
    expected = reference(data)
    for name, schema in ENGINEERED_SCHEMAS.items():
        assert out[name].schema.equals(schema, check_metadata=True)
        assert out[name].to_pylist() == expected[name]


@pytest.fixture(scope="module")
def generated() -> dict[str, pa.Table]:
    return synth.generate(400, 99, AS_OF)


def test_output_schemas_and_one_row_per_snapshot(generated: dict[str, pa.Table]) -> None:
    snaps = snapshot_times(generated["stroke_outcomes"], AS_OF)
    out = compute(generated, snaps)
    assert list(out) == list(ENGINEERED_SCHEMAS)
    for name, schema in ENGINEERED_SCHEMAS.items():
        assert out[name].schema.equals(schema, check_metadata=True)
        assert out[name].select(["patient_id", "event_timestamp"]).equals(snaps)
    risk = out["computed_risk_metrics"]
    assert pc.min(risk["risk_score"]).as_py() >= 0 and pc.max(risk["risk_score"]).as_py() <= 100
    assert risk["age_group"].null_count == 0  # every patient is an adult at every snapshot


def test_snapshot_times(generated: dict[str, pa.Table]) -> None:
    outcomes = generated["stroke_outcomes"]
    snaps = snapshot_times(outcomes, AS_OF)
    assert snaps.schema.equals(SNAPSHOTS)
    rows = {(r["patient_id"], r["event_timestamp"]) for r in snaps.to_pylist()}
    assessed = {(r["patient_id"], r["event_timestamp"]) for r in outcomes.to_pylist()}
    patients = set(outcomes["patient_id"].to_pylist())
    assert rows == assessed | {(p, AS_OF) for p in patients}
    assert snaps.num_rows == len(rows)  # deduplicated
    assert snaps.to_pylist() == sorted(
        snaps.to_pylist(), key=lambda r: (r["patient_id"], r["event_timestamp"])
    )
    # an assessment exactly at as_of is not duplicated
    dup = pa.table({"patient_id": ["P1", "P1"], "event_timestamp": pa.array([AS_OF, BASE], TS)})
    assert snapshot_times(dup, AS_OF).num_rows == 2


def _truncate(tables: dict[str, pa.Table], cutoff: datetime) -> dict[str, pa.Table]:
    return {
        name: t.filter(pc.less_equal(t[TS_COLUMN[name]], pa.scalar(cutoff, TS)))
        for name, t in tables.items()
    }


def test_no_leakage_data_after_the_snapshots_changes_nothing(
    generated: dict[str, pa.Table],
) -> None:
    cutoff = AS_OF - timedelta(days=200)
    snaps = snapshot_times(generated["stroke_outcomes"], cutoff)
    snaps = snaps.filter(pc.less_equal(snaps["event_timestamp"], pa.scalar(cutoff, TS)))
    truncated = _truncate(generated, cutoff)
    assert all(
        truncated[n].num_rows < generated[n].num_rows
        for n in ("clinical_measurements", "stroke_outcomes")
    )
    full, past_only = compute(generated, snaps), compute(truncated, snaps)
    for name in ENGINEERED_SCHEMAS:
        assert full[name].equals(past_only[name]), name


def test_no_leakage_appended_future_rows_change_nothing(generated: dict[str, pa.Table]) -> None:
    snaps = snapshot_times(generated["stroke_outcomes"], AS_OF)
    before = compute(generated, snaps)
    later = AS_OF + timedelta(seconds=1)
    future = dict(generated)
    for name, t in generated.items():
        extra = t.slice(0, 50).to_pylist()
        for row in extra:  # future rows that would change every feature if they leaked
            row[TS_COLUMN[name]] = later
            row.update(
                {
                    k: v
                    for k, v in {
                        "date_of_birth": datetime(2010, 1, 1, tzinfo=UTC),
                        "avg_glucose_level": 280.0,
                        "bmi": 60.0,
                        "smoking_status": "smokes",
                        "hypertension": 1,
                        "heart_disease": 1,
                        "diabetes": 1,
                        "stroke_date": later,
                        "discharge_date": None,
                        "discharge_status": "Admitted",
                        "department": "Oncology",
                    }.items()
                    if k in row
                }
            )
        future[name] = pa.concat_tables([t, table(name, extra)])
    after = compute(future, snaps)
    for name in ENGINEERED_SCHEMAS:
        assert after[name].equals(before[name]), name


def test_snapshots_without_prior_data_give_null_rows(generated: dict[str, pa.Table]) -> None:
    snaps = pa.table(
        {
            "patient_id": ["P00000001", "P99999999", "P00000001", "P00000001"],
            "event_timestamp": pa.array(
                [datetime(2000, 1, 1, tzinfo=UTC), AS_OF, AS_OF, datetime(2000, 1, 1, tzinfo=UTC)],
                TS,
            ),
        }
    )
    out = compute(generated, snaps)
    risk, hosp = (out[n].to_pylist() for n in ENGINEERED_SCHEMAS)
    assert len(risk) == len(hosp) == 4
    assert [r["patient_id"] for r in risk] == snaps["patient_id"].to_pylist()
    for i in (0, 1, 3):
        assert {
            k: v for k, v in risk[i].items() if k not in ("patient_id", "event_timestamp")
        } == dict.fromkeys(
            [
                "risk_score",
                "age_group",
                "risk_category",
                "condition_count",
                "has_multiple_conditions",
                "days_since_stroke",
            ]
        )
        assert hosp[i]["was_hospitalized"] == 0 and hosp[i]["is_currently_admitted"] == 0
        assert hosp[i]["days_since_admission"] is None and hosp[i]["department"] is None
        assert hosp[i]["discharge_status"] is None
    assert risk[2]["risk_score"] is not None and risk[2]["age_group"] is not None
    assert risk[0] == risk[3]


def test_compute_with_empty_sources() -> None:
    empty = {name: schema.empty_table() for name, schema in SOURCE_SCHEMAS.items()}
    snaps = pa.table({"patient_id": ["P1"], "event_timestamp": pa.array([AS_OF], TS)})
    out = compute(empty, snaps)
    assert out["computed_risk_metrics"].num_rows == 1
    assert out["computed_risk_metrics"]["risk_score"].null_count == 1
    assert out["hospitalization_metrics"]["was_hospitalized"].to_pylist() == [0]


def test_compute_is_deterministic_and_uses_row_times_not_the_clock() -> None:
    old = datetime(2001, 3, 1, tzinfo=UTC)
    tables = synth.generate(200, 5, old)
    snaps = snapshot_times(tables["stroke_outcomes"], old)
    first, second = compute(tables, snaps), compute(tables, snaps)
    assert all(first[n].equals(second[n]) for n in ENGINEERED_SCHEMAS)
    hosp = first["hospitalization_metrics"].to_pandas()
    assert hosp.days_since_admission.max() <= 730  # would be ~9000 days if "now" were used
    dob = tables["patient_demographics"].to_pandas().set_index("patient_id").date_of_birth
    risk = first["computed_risk_metrics"].to_pandas()
    ages = [
        t.year - d.year - ((t.month, t.day) < (d.month, d.day))
        for t, d in zip(risk.event_timestamp, risk.patient_id.map(dob), strict=True)
    ]
    groups = np.select(
        [np.array(ages) < 40, np.array(ages) < 60, np.array(ages) < 75],
        ["18-39", "40-59", "60-74"],
        "75+",
    )
    assert risk.age_group.tolist() == groups.tolist()
