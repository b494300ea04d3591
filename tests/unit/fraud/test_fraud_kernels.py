"""The fraud on-demand views' plain-Python kernels equal their pandas UDFs.

The online read path adopts a kernel only after its own probe agreed with the UDF; these
tests hold the kernels to the UDFs on random inputs too (nulls, NaN, zeros, large
values), and check the probe does adopt them (else every online fraud score would pay
the pandas UDF's milliseconds again)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from potluck.domains.fraud import features, kernels
from potluck.online._odfv import KernelSpec, OnDemandStep, on_demand_step

VIEWS = {
    "transaction_risk_5m": (features.transaction_risk_5m, kernels.TRANSACTION_RISK),
    "user_engagement_scores": (features.user_engagement_scores, kernels.USER_ENGAGEMENT),
}

values = st.one_of(
    st.none(),
    st.just(float("nan")),
    st.integers(min_value=0, max_value=50),
    st.floats(min_value=-2.0, max_value=5000.0, allow_nan=False),
)


def _step(name: str) -> tuple[OnDemandStep, KernelSpec]:
    view, spec = VIEWS[name]
    step = on_demand_step(view, [f.name for f in view.features])
    assert step is not None
    return step, spec


@pytest.mark.parametrize("name", sorted(VIEWS))
def test_the_read_path_adopts_each_kernel(name: str) -> None:
    step, spec = _step(name)
    assert step.kernel is spec.compute


@pytest.mark.parametrize("name", sorted(VIEWS))
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_kernel_equals_the_udf_on_random_inputs(name: str, data: Any) -> None:
    step, spec = _step(name)
    n = data.draw(st.integers(min_value=1, max_value=12))
    columns = {c: data.draw(st.lists(values, min_size=n, max_size=n)) for c in sorted(spec.inputs)}
    times = [datetime(2026, 3, 1, tzinfo=UTC)] * n
    want = step.run_udf(columns, "__key", [f"k{i}" for i in range(n)], times)
    got = spec.compute(columns, times)
    for output in step.outputs:
        for a, b in zip(got[output], want[output], strict=True):
            assert a == b or (math.isnan(a) and math.isnan(b)), (output, columns)
