"""Deterministic synthetic data for the healthcare deployment.

:func:`generate` returns the five source tables of
:data:`~potluck.domains.healthcare.schema.SOURCE_SCHEMAS` for ``patients``
patients, fully determined by ``(patients, seed, as_of)`` (one seeded
``numpy.random.Generator``, no global state, vectorized). ``as_of`` is "now";
every event lies in ``[as_of - 730 d, as_of]`` (a ``stroke_date`` may lie after
``as_of``: it is the outcome the label looks ahead to). Times are whole seconds
before ``as_of``; dates of birth are UTC midnights.

Generative model (per patient)
------------------------------
* registration_date ~ U[as_of - 730 d, as_of - 400 d]; age at as_of
  ~ lo + (95.99 - lo)·Beta(2.2, 1.6) with lo chosen so the patient is >= 18 at
  registration (so age at as_of is 18-95, mean ~63).
* gender Female 50.5 % / Male 48.5 % / Other 1 %; city (with its province,
  postal-code letter and Region_1..5) weighted by population.
* latent flags, rising with age a at as_of: hypertension ~ B(σ(-4 + 0.055a)),
  heart_disease ~ B(σ(-6 + 0.06a + 0.5htn)), diabetes ~ B(σ(-4.2 + 0.04a + 0.3htn));
  smoking never 55 % / smokes 20 % / formerly 25 %. A smoker with >= 2 lifestyle
  surveys quits with probability 0.3 at a random later survey (the quit time).
* latent glucose g(t) = clip(g0 + 0.08·age(t), 70, 280) with
  g0 = 90 + (0.5htn + 0.7hd)·25 + N(0, 10) + diabetes·N(40, 15); a visit
  measures g(t) + N(0, 6) (total noise sd ~12), clipped 70-280, 1 % null.
* latent bmi = clip(27 + sex (M +0.6, F -0.5) + smoking (smokes -1.0, formerly
  +0.7) + 1.5 - 0.002·(age_reg - 55)² + N(0, 4.5), 15, 60); a visit measures
  bmi + N(0, 0.8), clipped 15-60, 3 % null.
* visits 1-5, the first at registration; systolic = 118 + 27htn +
  0.25(age - 50) + N(0, 11); diastolic = 0.5·systolic + 15 + N(0, 7);
  heart_rate 72 ± 10; cholesterol 190 ± 35.
* admissions min(Poisson(0.1 + 0.012·max(a - 40, 0) + 0.35htn + 0.5hd + 0.25db), 3),
  non-overlapping in [registration, as_of], length 1-20 days; a stay ending
  after as_of has a null discharge_date and status "Admitted".
* stroke assessments 1-2 at U[registration + 30 d, as_of]; the label
  stroke_occurred ~ Bernoulli(p), p = σ(logit) of the true state at the
  assessment time t::

      logit = B0 + B_AGE·age(t) + 1.0htn + 0.9hd + 0.5diabetes
              + 0.012(g(t) - 100) + 0.04(bmi - 27)
              + (0.7 if smoking at t else 0.35 if formerly smoked at t else 0)
              + 1.0·prior_stroke

  where prior_stroke = 1 if an earlier assessment's stroke_date is before t.
  stroke_probability = p is the oracle (never a feature). With a stroke,
  stroke_date = t + U(1, 365) d, a severity and a recovery status.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from potluck.domains.healthcare.schema import SOURCE_SCHEMAS

__all__ = ["B0", "B_AGE", "generate", "oracle_auc"]

# Logistic model of the label: intercept and age slope (per year), calibrated for a
# prevalence of ~12.8 % and an oracle AUC of ~0.85.
B0 = -6.6
B_AGE = 0.045

Ints = NDArray[np.int64]
Mask = NDArray[np.bool_]
Spec = tuple[list[str], Sequence[float]]
SEC = 1_000_000
DAY = 86_400 * SEC
YEAR = 365.25 * DAY
NEVER = np.iinfo(np.int64).max
TS = pa.timestamp("us", tz="UTC")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _split(text: str, sep: str = "|") -> list[str]:
    return text.split(sep)


def _spec(text: str, weights: Sequence[float]) -> Spec:
    return _split(text), weights


# city, province, postal-code letter, healthcare region, population weight
_CITIES = [
    (c, prov, letter, int(region), float(w))
    for c, prov, letter, region, w in map(
        _split,
        _split(
            "Toronto|Ontario|M|1|28;Ottawa|Ontario|K|2|10;Hamilton|Ontario|L|1|6;"
            "London|Ontario|N|2|5;Montreal|Quebec|H|3|18;Quebec City|Quebec|G|3|6;"
            "Vancouver|British Columbia|V|4|12;Victoria|British Columbia|V|4|3;"
            "Calgary|Alberta|T|5|7;Edmonton|Alberta|T|5|6;Winnipeg|Manitoba|R|5|4;"
            "Saskatoon|Saskatchewan|S|5|2;Regina|Saskatchewan|S|5|2;Halifax|Nova Scotia|B|2|3",
            ";",
        ),
    )
]
_FIRST = _split(
    "James|Mary|Robert|Patricia|John|Jennifer|Michael|Linda|David|Elizabeth|William|Barbara|"
    "Richard|Susan|Joseph|Jessica|Thomas|Sarah|Charles|Karen|Wei|Priya|Mohammed|Fatima|Luc|"
    "Chloe|Ethan|Olivia|Noah|Amelia"
)
_LAST = _split(
    "Smith|Brown|Tremblay|Martin|Roy|Wilson|Macdonald|Gagnon|Johnson|Taylor|Campbell|Anderson|"
    "Leblanc|Lee|Cote|Bouchard|Gauthier|Morin|Lambert|White|Singh|Chen|Nguyen|Patel|Wong|Kim|"
    "Murphy|Clark|Young|Scott"
)
_DOCTORS = [f"Dr. {f} {ln}" for f, ln in zip(_FIRST, _LAST[::-1], strict=True)]
_GENDER = _spec("Female|Male|Other", [50.5, 48.5, 1.0])
_BLOOD = _spec("O+|A+|B+|AB+|O-|A-|B-|AB-", [39, 36, 7.6, 2.5, 7, 6, 1.4, 0.5])
_INSURANCE = _spec("Provincial|Provincial + Private|Private|Federal", [45, 35, 15, 5])
_SMOKING = _spec("never smoked|smokes|formerly smoked", [55, 20, 25])
_EXERCISE = _spec("Never|Rarely|1-2 times/week|3-4 times/week|Daily", [15, 25, 30, 20, 10])
_ALCOHOL = _spec("None|Occasional|Moderate|Heavy", [30, 40, 23, 7])
_DIET = _spec("Balanced|Mediterranean|Vegetarian|Vegan|Keto|High-fat", [40, 15, 12, 5, 8, 20])
_DEPARTMENT = _spec(
    "Emergency|Internal Medicine|Cardiology|Neurology|General Surgery|Orthopedics|Pulmonology|"
    "Oncology",
    [30, 20, 15, 10, 9, 7, 5, 4],
)
_DISCHARGE = ["Discharged", "Admitted", "Transferred"]
_SEVERITY = _spec("Mild|Moderate|Severe", [45, 35, 20])
_RECOVERY = ["Full Recovery", "Partial Recovery", "Ongoing Rehabilitation", "Deceased"]
_RECOVERY_CDF = np.cumsum([[60, 30, 10, 0], [30, 40, 25, 5], [10, 30, 40, 20]], axis=1) / 100


@dataclass(frozen=True)
class _Cohort:
    """Per-patient latent state (arrays of length n; times in µs since the epoch)."""

    now: int
    ids: pa.Array
    reg: Ints
    dob: Ints
    age: NDArray[np.float64]  # at as_of
    sex: Ints
    htn: Ints
    hd: Ints
    db: Ints
    smoke: Ints  # index into _SMOKING at registration
    g0: NDArray[np.float64]  # latent glucose without its age term
    bmi: NDArray[np.float64]

    @property
    def n(self) -> int:
        return len(self.reg)

    def glucose(self, owner: Ints, t: Ints) -> NDArray[np.float64]:
        """Latent glucose of each owner at time t."""
        return np.asarray((self.g0[owner] + 0.08 * _years(t - self.dob[owner])).clip(70, 280))


def _sigmoid(x: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(1.0 / (1.0 + np.exp(-x)))


def _years(us: Ints) -> NDArray[np.float64]:
    return np.asarray(us / YEAR)


def _pick(rng: np.random.Generator, spec: Spec, n: int) -> Ints:
    w = np.asarray(spec[1], dtype=np.float64)
    return rng.choice(len(w), size=n, p=w / w.sum()).astype(np.int64)


def _strings(options: list[str], codes: Ints, mask: Mask | None = None) -> pa.Array:
    return pa.array(options, pa.string()).take(pa.array(codes, pa.int64(), mask=mask))


def _ascii(*parts: str | Ints, n: int) -> pa.Array:
    """Fixed-width ASCII strings from literal parts and arrays of character codes."""
    cols: list[Ints] = []
    for part in parts:
        cols.extend(
            [np.full(n, ord(c), np.int64) for c in part] if isinstance(part, str) else [part]
        )
    mat = np.ascontiguousarray(np.stack(cols, axis=1).astype(np.uint8)) if n else np.zeros((0, 1))
    return pa.array(mat.view(f"S{mat.shape[1]}").ravel(), pa.binary()).cast(pa.string())


def _digits(values: Ints, width: int) -> list[Ints]:
    return [(values // 10 ** (width - 1 - k)) % 10 + ord("0") for k in range(width)]


def _ts(us: Ints, mask: Mask | None = None) -> pa.Array:
    return pa.array(np.asarray(us, np.int64), type=TS, mask=mask)


def _expand(counts: Ints) -> tuple[Ints, Ints]:
    """The owner of each child row and its rank among its owner's rows."""
    owner = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    starts = np.cumsum(counts) - counts
    return owner, np.arange(len(owner), dtype=np.int64) - starts[owner]


def _times(rng: np.random.Generator, owner: Ints, now: int, start: Ints, pin: Mask | None) -> Ints:
    """Times uniform in [start, now] in whole seconds (``pin`` rows at start), sorted per owner."""
    span_s = (now - start[owner]) // SEC
    t = now - np.floor(rng.random(len(owner)) * span_s).astype(np.int64) * SEC
    t = t if pin is None else np.where(pin, start[owner], t)
    return t[np.lexsort((t, owner))]


def _cohort(rng: np.random.Generator, n: int, now: int) -> _Cohort:
    reg = now - (400 * 86_400 + rng.integers(0, 330 * 86_400, n)) * SEC
    lo = 18.01 + _years(now - reg)  # adult at registration
    age = lo + (95.99 - lo) * rng.beta(2.2, 1.6, n)
    dob = (now - (age * YEAR).astype(np.int64)) // DAY * DAY
    sex = _pick(rng, _GENDER, n)
    htn = (rng.random(n) < _sigmoid(-4.0 + 0.055 * age)).astype(np.int64)
    hd = (rng.random(n) < _sigmoid(-6.0 + 0.06 * age + 0.5 * htn)).astype(np.int64)
    db = (rng.random(n) < _sigmoid(-4.2 + 0.04 * age + 0.3 * htn)).astype(np.int64)
    smoke = _pick(rng, _SMOKING, n)
    g0 = 90 + (0.5 * htn + 0.7 * hd) * 25 + rng.normal(0, 10, n) + db * rng.normal(40, 15, n)
    age_reg = _years(reg - dob)
    bmi = 27 + np.array([-0.5, 0.6, 0.0])[sex] + np.array([0.0, -1.0, 0.7])[smoke]
    bmi = (bmi + 1.5 - 0.002 * (age_reg - 55) ** 2 + rng.normal(0, 4.5, n)).clip(15, 60)
    ids = _ascii("P", *_digits(np.arange(1, n + 1, dtype=np.int64), 8), n=n)
    return _Cohort(now, ids, reg, dob, age, sex, htn, hd, db, smoke, g0, bmi)


def _demographics(rng: np.random.Generator, p: _Cohort) -> dict[str, pa.Array]:
    n = p.n
    city = _pick(rng, ([c[0] for c in _CITIES], [c[4] for c in _CITIES]), n)
    letters = np.frombuffer(b"ABCEGHJKLMNPRSTVWXYZ", np.uint8).astype(np.int64)
    fsa = [np.array([ord(c[2]) for c in _CITIES])[city], rng.integers(48, 58, n)]
    fsa.append(letters[rng.integers(0, 20, n)])
    ldu = [rng.integers(48, 58, n), letters[rng.integers(0, 20, n)], rng.integers(48, 58, n)]
    return {
        "patient_id": p.ids,
        "first_name": _strings(_FIRST, rng.integers(0, len(_FIRST), n)),
        "last_name": _strings(_LAST, rng.integers(0, len(_LAST), n)),
        "date_of_birth": _ts(p.dob),
        "gender": _strings(_GENDER[0], p.sex),
        "blood_type": _strings(_BLOOD[0], _pick(rng, _BLOOD, n)),
        "province": _strings([c[1] for c in _CITIES], city),
        "city": _strings([c[0] for c in _CITIES], city),
        "postal_code": _ascii(*fsa, " ", *ldu, n=n),
        "healthcare_region": _strings([f"Region_{c[3]}" for c in _CITIES], city),
        "insurance_type": _strings(_INSURANCE[0], _pick(rng, _INSURANCE, n)),
        "insurance_id": _ascii("INS", *_digits(rng.integers(0, 10**9, n), 9), n=n),
        "registration_date": _ts(p.reg),
    }


def _clinical(rng: np.random.Generator, p: _Cohort) -> dict[str, pa.Array]:
    own, rank = _expand(rng.integers(1, 6, p.n))
    m = len(own)
    t = _times(rng, own, p.now, p.reg, pin=rank == 0)
    glucose = (p.glucose(own, t) + rng.normal(0, 6, m)).clip(70, 280).round(2)
    age_t = _years(t - p.dob[own])
    sys_bp = (118 + 27 * p.htn[own] + 0.25 * (age_t - 50) + rng.normal(0, 11, m)).clip(85, 230)
    dia_bp = np.minimum(0.5 * sys_bp + 15 + rng.normal(0, 7, m), sys_bp - 20).clip(45, 140)
    bmi = (p.bmi[own] + rng.normal(0, 0.8, m)).clip(15, 60).round(1)
    return {
        "patient_id": p.ids.take(own),
        "visit_date": _ts(t),
        "avg_glucose_level": pa.array(glucose, mask=rng.random(m) < 0.01),
        "bmi": pa.array(bmi, mask=rng.random(m) < 0.03),
        "blood_pressure_systolic": pa.array(sys_bp.round().astype(np.int64)),
        "blood_pressure_diastolic": pa.array(dia_bp.round().astype(np.int64)),
        "heart_rate": pa.array((72 + rng.normal(0, 10, m)).clip(40, 160).round().astype(np.int64)),
        "cholesterol_level": pa.array((190 + rng.normal(0, 35, m)).clip(100, 400).round(1)),
    }


def _lifestyle(rng: np.random.Generator, p: _Cohort) -> tuple[dict[str, pa.Array], Ints]:
    """Surveys, and each patient's quit time (NEVER unless a smoker quits at a later survey)."""
    counts = rng.integers(1, 4, p.n)
    own, rank = _expand(counts)
    m = len(own)
    t = _times(rng, own, p.now, p.reg, pin=rank == 0)
    quits = (p.smoke == 1) & (counts >= 2) & (rng.random(p.n) < 0.3)
    quit_rank = np.where(quits, 1 + np.floor(rng.random(p.n) * (counts - 1)).astype(np.int64), 99)
    quit_time = np.full(p.n, NEVER, np.int64)
    at_quit = rank == quit_rank[own]
    quit_time[own[at_quit]] = t[at_quit]
    status = np.where((p.smoke[own] == 1) & (rank >= quit_rank[own]), 2, p.smoke[own])

    def habit(spec: Spec) -> pa.Array:  # a patient's habit, re-drawn on 20 % of surveys
        usual = _pick(rng, spec, p.n)[own]
        return _strings(spec[0], np.where(rng.random(m) < 0.2, _pick(rng, spec, m), usual))

    stress = (rng.normal(5, 2, p.n)[own] + rng.normal(0, 1.2, m)).round().clip(1, 10)
    return {
        "patient_id": p.ids.take(own),
        "event_timestamp": _ts(t),
        "smoking_status": _strings(_SMOKING[0], status),
        "exercise_frequency": habit(_EXERCISE),
        "alcohol_consumption": habit(_ALCOHOL),
        "diet_type": habit(_DIET),
        "stress_level": pa.array(stress.astype(np.int64)),
    }, quit_time


def _admissions(rng: np.random.Generator, p: _Cohort) -> dict[str, pa.Array]:
    lam = 0.1 + 0.012 * np.maximum(p.age - 40, 0) + 0.35 * p.htn + 0.5 * p.hd + 0.25 * p.db
    own, rank = _expand(np.minimum(rng.poisson(lam), 3))
    m = len(own)
    los = np.minimum(rng.geometric(0.2, m), 20).astype(np.int64) * DAY
    before = np.cumsum(los) - los
    before -= before[np.arange(m) - rank]  # length of this patient's earlier stays
    total_before = np.zeros(p.n, np.int64)
    np.maximum.at(total_before, own, before)
    # sorted offsets in [0, span - earlier stays] plus the earlier stays: no overlap, <= now
    off = np.floor(rng.random(m) * ((p.now - p.reg - total_before)[own] // SEC)).astype(np.int64)
    adm = p.reg[own] + off[np.lexsort((off, own))] * SEC + before
    dis = adm + los
    still_in = dis > p.now
    status = np.where(still_in, 1, np.where(rng.random(m) < 0.12, 2, 0))
    return {
        "patient_id": p.ids.take(own),
        "hospital_id": _ascii("H0", *_digits(rng.integers(1, 21, m), 2), n=m),
        "medical_record_number": _ascii("MRN", *_digits(rng.integers(0, 10**8, p.n)[own], 8), n=m),
        "department": _strings(_DEPARTMENT[0], _pick(rng, _DEPARTMENT, m)),
        "attending_physician": _strings(_DOCTORS, rng.integers(0, len(_DOCTORS), m)),
        "admission_date": _ts(adm),
        "discharge_date": _ts(dis, mask=still_in),
        "discharge_status": _strings(_DISCHARGE, status),
    }


def _outcomes(rng: np.random.Generator, p: _Cohort, quit_time: Ints) -> dict[str, pa.Array]:
    own, rank = _expand(rng.integers(1, 3, p.n))
    m = len(own)
    t = _times(rng, own, p.now, p.reg + 30 * DAY, pin=None)
    u_label, u_delay, u_rec = rng.random((3, m))
    smoking_t = np.where((p.smoke[own] == 1) & (t >= quit_time[own]), 2, p.smoke[own])
    logit = (
        B0
        + B_AGE * _years(t - p.dob[own])
        + 1.0 * p.htn[own]
        + 0.9 * p.hd[own]
        + 0.5 * p.db[own]
        + 0.012 * (p.glucose(own, t) - 100)
        + 0.04 * (p.bmi[own] - 27)
        + np.array([0.0, 0.7, 0.35])[smoking_t]
    )
    prob, stroke_at = np.zeros(m), np.full(m, NEVER, np.int64)
    first_stroke = np.full(p.n, NEVER, np.int64)
    for r in range(int(rank.max()) + 1):  # assessments in time order: prior strokes feed in
        rows = np.flatnonzero(rank == r)
        prior = first_stroke[own[rows]] < t[rows]
        prob[rows] = _sigmoid(logit[rows] + 1.0 * prior)
        delay = np.floor((1 + u_delay[rows] * 364) * 86_400).astype(np.int64) * SEC
        stroke_at[rows] = np.where(u_label[rows] < prob[rows], t[rows] + delay, NEVER)
        np.minimum.at(first_stroke, own[rows], stroke_at[rows])
    stroke = stroke_at != NEVER
    severity = _pick(rng, _SEVERITY, m)
    recovery = (u_rec[:, None] >= _RECOVERY_CDF[severity]).sum(axis=1).clip(0, 3)
    return {
        "patient_id": p.ids.take(own),
        "event_timestamp": _ts(t),
        "hypertension": pa.array(p.htn[own]),
        "heart_disease": pa.array(p.hd[own]),
        "diabetes": pa.array(p.db[own]),
        "stroke_occurred": pa.array(stroke.astype(np.int64)),
        "stroke_probability": pa.array(prob),
        "stroke_severity": _strings(_SEVERITY[0], severity, mask=~stroke),
        "stroke_date": _ts(np.where(stroke, stroke_at, 0), mask=~stroke),
        "recovery_status": _strings(_RECOVERY, recovery, mask=~stroke),
    }


def generate(patients: int, seed: int, as_of: datetime) -> dict[str, pa.Table]:
    """The five source tables for ``patients`` patients; deterministic in (patients, seed, as_of)."""
    if patients < 1:
        raise ValueError(f"patients must be >= 1, got {patients}")
    as_of = as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC)
    rng = np.random.default_rng(seed)
    cohort = _cohort(rng, patients, (as_of - _EPOCH) // timedelta(microseconds=1))
    lifestyle, quit_time = _lifestyle(rng, cohort)
    columns = {
        "patient_demographics": _demographics(rng, cohort),
        "clinical_measurements": _clinical(rng, cohort),
        "lifestyle_data": lifestyle,
        "hospital_administration": _admissions(rng, cohort),
        "stroke_outcomes": _outcomes(rng, cohort, quit_time),
    }
    return {name: pa.table(columns[name], schema=schema) for name, schema in SOURCE_SCHEMAS.items()}


def oracle_auc(outcomes: pa.Table) -> float:
    """ROC AUC of the generator's true ``stroke_probability`` against ``stroke_occurred``."""
    from sklearn.metrics import roc_auc_score

    y = outcomes.column("stroke_occurred").to_numpy()
    p = outcomes.column("stroke_probability").to_numpy()
    return float(roc_auc_score(y, p))
