"""The pure feature functions on hand-computed examples, nulls and edges."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from potluck import engineering
from potluck.domains.healthcare import functions as fn

NA = pd.NA


def ts(*values: str | None) -> pd.Series:
    return pd.Series(pd.to_datetime(list(values), utc=True, format="ISO8601")).astype(
        "datetime64[us, UTC]"
    )


def ints(*values: int | None) -> pd.Series:
    return pd.Series(list(values), dtype="Int64")


def floats(*values: float | None) -> pd.Series:
    return pd.Series([np.nan if v is None else v for v in values], dtype="float64")


def as_list(s: pd.Series) -> list[object]:
    return [None if pd.isna(v) else v for v in s.tolist()]


def test_exports_and_docstrings() -> None:
    assert set(engineering.__all__) >= {"compute", "snapshot_times"}
    assert {"risk_score", "age"} <= set(fn.__all__)
    for name in fn.__all__:
        obj = getattr(fn, name)
        if callable(obj):
            assert obj.__doc__ and len(obj.__doc__) > 30, name


@pytest.mark.parametrize(
    ("dob", "at", "expected"),
    [
        ("1990-06-15", "2020-06-15", 30),  # on the birthday
        ("1990-06-15", "2020-06-14 23:59:59", 29),  # the second before
        ("1990-06-15", "2020-12-31", 30),
        ("2000-02-29", "2021-02-28", 20),  # leap-day birthday, common year
        ("2000-02-29", "2021-03-01", 21),
        ("2000-02-29", "2024-02-29", 24),
        ("1950-01-01", "1950-01-01", 0),
    ],
)
def test_age_in_whole_years(dob: str, at: str, expected: int) -> None:
    assert as_list(fn.age(ts(dob), ts(at))) == [expected]


def test_age_uses_utc_calendar_and_nulls() -> None:
    dob = pd.Series(pd.to_datetime(["1990-06-15T00:00:00+00:00"] * 2, utc=True))
    at = pd.Series(pd.to_datetime(["2020-06-14T22:00:00-04:00", "2020-06-14T19:59:00-04:00"]))
    assert as_list(fn.age(dob, at)) == [30, 29]  # 02:00 UTC on the 15th / 23:59 UTC on the 14th
    assert as_list(fn.age(ts(None, "1990-01-01"), ts("2020-01-01", None))) == [None, None]
    assert fn.age(ts("1990-01-01"), ts("2020-01-01")).dtype == "Int64"


def test_age_group_edges_and_nulls() -> None:
    out = fn.age_group(ints(17, 18, 39, 40, 59, 60, 74, 75, 120, None))
    assert as_list(out) == [
        None,
        "18-39",
        "18-39",
        "40-59",
        "40-59",
        "60-74",
        "60-74",
        "75+",
        "75+",
        None,
    ]


def test_condition_count_and_multiple() -> None:
    count = fn.condition_count(
        ints(1, 1, 0, None, None, 1), ints(1, 0, 0, 1, None, None), ints(1, 1, 0, None, None, 0)
    )
    assert as_list(count) == [3, 2, 0, 1, None, 1]
    assert as_list(fn.has_multiple_conditions(count)) == [1, 1, 0, 0, None, 0]
    assert count.dtype == "Int64"


def test_risk_score_extremes() -> None:
    top = fn.risk_score(
        ints(95), ints(1), ints(1), ints(1), floats(280.0), floats(60.0), pd.Series(["smokes"])
    )
    assert as_list(top) == [100.0]
    exact_max = fn.risk_score(
        ints(90), ints(1), ints(1), ints(1), floats(200.0), floats(40.0), pd.Series(["smokes"])
    )
    assert as_list(exact_max) == [100.0]
    bottom = fn.risk_score(
        ints(0), ints(0), ints(0), ints(0), floats(99.0), floats(20.0), pd.Series(["never smoked"])
    )
    assert as_list(bottom) == [0.0]


def test_risk_score_hand_computed() -> None:
    # age 45 -> 15; htn 15; glucose 150 -> 5; bmi 31 -> 4; formerly 5  => 44.0
    a = fn.risk_score(
        ints(45),
        ints(1),
        ints(0),
        ints(0),
        floats(150.0),
        floats(31.0),
        pd.Series(["formerly smoked"]),
    )
    # age 60 -> 20; hd 15; diabetes 10; glucose 127.3 -> 2.73; bmi 26 -> 0.6667; smokes 10 => 58.3967
    b = fn.risk_score(
        ints(60), ints(0), ints(1), ints(1), floats(127.3), floats(26.0), pd.Series(["smokes"])
    )
    assert as_list(a) == [44.0] and as_list(b) == [58.4]


def test_risk_score_nulls_score_zero_but_all_null_is_null() -> None:
    partial = fn.risk_score(
        ints(90), ints(None), ints(None), ints(None), floats(None), floats(None), pd.Series([None])
    )
    assert as_list(partial) == [30.0]
    nothing = fn.risk_score(
        ints(None),
        ints(None),
        ints(None),
        ints(None),
        floats(None),
        floats(None),
        pd.Series([None], dtype=object),
    )
    assert as_list(nothing) == [None]
    only_smoking = fn.risk_score(
        ints(None),
        ints(None),
        ints(None),
        ints(None),
        floats(None),
        floats(None),
        pd.Series(["smokes"]),
    )
    assert as_list(only_smoking) == [10.0]


def test_risk_category_boundaries() -> None:
    out = fn.risk_category(floats(0.0, 29.9, 30.0, 59.9, 60.0, 100.0, None))
    assert as_list(out) == ["low", "low", "moderate", "moderate", "high", "high", None]


def test_bmi_and_glucose_categories() -> None:
    assert as_list(fn.bmi_category(floats(18.4, 18.5, 24.9, 25.0, 29.9, 30.0, None))) == [
        "underweight", "normal", "normal", "overweight", "overweight", "obese", None,
    ]  # fmt: skip
    assert as_list(fn.glucose_category(floats(99.9, 100.0, 125.9, 126.0, None))) == [
        "normal", "prediabetic", "prediabetic", "diabetic", None,
    ]  # fmt: skip


def test_days_since_stroke() -> None:
    t = ts(
        "2024-05-10 12:00", "2024-05-10 12:00", "2024-05-10 12:00", "2024-05-10 12:00", "2024-05-10"
    )
    stroke = ts(
        "2024-05-10 12:00", "2024-05-10 00:00", "2024-05-09 12:00:01", "2024-05-10 12:00:01", None
    )
    assert as_list(fn.days_since_stroke(t, stroke)) == [0, 0, 0, None, None]
    assert as_list(fn.days_since_stroke(ts("2024-03-01"), ts("2023-03-01"))) == [366]


def test_hospitalization_functions() -> None:
    t = ts(
        "2024-05-10 12:00",
        "2024-05-10 12:00",
        "2024-05-10 12:00",
        "2024-05-10 12:00",
        "2024-05-10 12:00",
    )
    admitted = ts("2024-05-10 12:00", "2024-05-01", "2024-05-01", "2024-04-01", None)
    discharged = ts(None, "2024-05-10 12:00", "2024-05-10 12:00:01", "2024-04-05", None)
    recorded = pd.Series(["Admitted", "Transferred", "Discharged", "Discharged", None])
    assert as_list(fn.was_hospitalized(admitted)) == [1, 1, 1, 1, 0]
    assert as_list(fn.days_since_admission(t, admitted)) == [0, 9, 9, 39, None]
    assert as_list(fn.is_currently_admitted(t, admitted, discharged)) == [1, 0, 1, 0, 0]
    assert as_list(fn.discharge_status(t, admitted, discharged, recorded)) == [
        "Admitted", "Transferred", "Admitted", "Discharged", None,
    ]  # fmt: skip


def test_admission_after_the_row_time_is_ignored() -> None:
    t = ts("2024-05-10")
    later = ts("2024-05-11")
    assert as_list(fn.is_currently_admitted(t, later, ts(None))) == [0]
    assert as_list(fn.days_since_admission(t, later)) == [None]
    assert as_list(fn.discharge_status(t, later, ts(None), pd.Series(["Admitted"]))) == [None]


def test_functions_keep_the_index() -> None:
    idx = pd.Index([10, 20])
    a = pd.Series([30, None], dtype="Int64", index=idx)
    assert fn.age_group(a).index.equals(idx)
    assert fn.risk_category(pd.Series([1.0, 70.0], index=idx)).index.equals(idx)
    assert fn.condition_count(a, a, a).index.equals(idx)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 12, 31)),
            st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 12, 31)),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_age_equals_the_calendar_rule_on_any_dates(pairs: list[tuple[datetime, datetime]]) -> None:
    """Before and after 1970 (negative epoch values), leap days, any time of day: the
    vectorized age is the textbook rule applied to each pair."""
    dob = pd.Series(pd.to_datetime([b for b, _ in pairs], utc=True))
    at = pd.Series(pd.to_datetime([t for _, t in pairs], utc=True))
    expected = [t.year - b.year - ((t.month, t.day) < (b.month, b.day)) for b, t in pairs]
    assert as_list(fn.age(dob, at)) == expected
