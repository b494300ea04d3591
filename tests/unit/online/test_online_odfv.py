"""The request-time kernel equals Feast's evaluation of the pandas UDF."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from potluck.domains.healthcare.features import request_time_features
from potluck.domains.healthcare.kernels import REQUEST_TIME_FEATURES
from potluck.online._odfv import KERNEL_TAG, KernelSpec, on_demand_step

BIRTH = st.one_of(
    st.none(),
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2030, 12, 31)).map(
        lambda d: d.replace(tzinfo=UTC)
    ),
)
NUMBER = st.one_of(st.none(), st.floats(min_value=0, max_value=400, allow_nan=False))
AT = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1)).map(
    lambda d: d.replace(tzinfo=UTC)
)


def test_the_healthcare_kernel_passes_its_probe() -> None:
    step = on_demand_step(request_time_features, ["age", "bmi_category", "glucose_category"])
    assert step is not None and step.kernel is REQUEST_TIME_FEATURES.compute


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(BIRTH, NUMBER, NUMBER, AT), min_size=1, max_size=30))
def test_kernel_equals_udf(rows: list[tuple]) -> None:
    step = on_demand_step(request_time_features, ["age", "bmi_category", "glucose_category"])
    assert step is not None and step.kernel is not None
    inputs = {
        "date_of_birth": [r[0] for r in rows],
        "bmi": [r[1] for r in rows],
        "avg_glucose_level": [r[2] for r in rows],
    }
    times = [r[3] for r in rows]
    keys = [f"P{i}" for i in range(len(rows))]
    assert step.kernel(inputs, times) == step.run_udf(inputs, "patient_id", keys, times)


def test_without_times_the_kernel_uses_now() -> None:
    step = on_demand_step(request_time_features, ["age"])
    assert step is not None
    born = datetime.now(UTC) - timedelta(days=365 * 40 + 20)
    out = step.apply(
        {"date_of_birth": [born, None], "bmi": [1, 2], "avg_glucose_level": [1, 2]}, "k", ["a", "b"]
    )
    assert out == {"age": [40, None]}


def _tagged(target: str | None) -> object:
    """The healthcare on-demand view with its kernel tag replaced (or removed)."""
    view = copy.copy(request_time_features)
    tags = {k: v for k, v in request_time_features.tags.items() if k != KERNEL_TAG}
    view.tags = tags if target is None else {**tags, KERNEL_TAG: target}
    return view


ALTERED = KernelSpec(
    inputs=frozenset({"bmi"}),  # not what the view reads
    compute=REQUEST_TIME_FEATURES.compute,
    probe=REQUEST_TIME_FEATURES.probe,
)
NOT_A_SPEC = object()


@pytest.mark.parametrize(
    "target",
    [
        None,  # no tag: the UDF
        "potluck.domains.healthcare.no_such_module:REQUEST_TIME_FEATURES",
        "potluck.domains.healthcare.kernels:NO_SUCH_NAME",
        "not a target",
        f"{__name__}:NOT_A_SPEC",
        f"{__name__}:ALTERED",  # reads other inputs than the view
    ],
)
def test_a_kernel_that_does_not_load_or_fit_leaves_the_udf(target: str | None) -> None:
    step = on_demand_step(_tagged(target), ["age"])  # type: ignore[arg-type]
    assert step is not None and step.kernel is None
    inputs = {"date_of_birth": [datetime(1980, 2, 29, tzinfo=UTC)], "bmi": [20.0]}
    inputs["avg_glucose_level"] = [90.0]
    # the UDF runs, and gives what the (independent) kernel computes
    assert step.apply(inputs, "k", ["a"]) == {
        "age": REQUEST_TIME_FEATURES.compute(inputs, None)["age"]
    }
