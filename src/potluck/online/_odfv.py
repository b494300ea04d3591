"""On-demand features on the online read path, with the values Feast computes.

The generic path does what Feast's ``get_online_features`` does: the inputs go
into an Arrow table, through the view's own ``transform_arrow`` (pandas mode) or
``transform_dict`` (python mode), and each output through Feast's value
conversion. Exact, but a pandas UDF costs milliseconds even for one row.

So a view may also have a *kernel*: a plain-Python version of its UDF for small
batches. A kernel is only trusted after it agreed with the UDF, value for
value, on a probe batch of edge cases (nulls, category thresholds, birthdays
around the probe time, 29 February) when the read plan is built; if it
disagrees or fails, the UDF is used. A kernel that drifts from its UDF is
therefore slow, never wrong on the probed cases.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
from feast.on_demand_feature_view import OnDemandFeatureView

__all__ = ["OnDemandStep", "on_demand_step"]

log = logging.getLogger(__name__)

Columns = dict[str, list[Any]]
# kernel(inputs, times) -> outputs; ``times`` is the per-row evaluation time, or None for now
Kernel = Callable[[Columns, list[datetime] | None], Columns]


def _categories(values: list[Any], edges: Sequence[float], labels: Sequence[str]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if v is None or v != v:  # null or NaN
            out.append(None)
        else:
            out.append(labels[bisect.bisect_right(edges, float(v))])
    return out


def _request_time_features(inputs: Columns, times: list[datetime] | None) -> Columns:
    """``potluck.domains.healthcare.features.request_time_features`` for few rows."""
    from potluck.engineering.functions import BMI_CATEGORIES, GLUCOSE_CATEGORIES

    births = inputs["date_of_birth"]
    now = datetime.now(UTC)
    ages: list[Any] = []
    for i, born in enumerate(births):
        if born is None:
            ages.append(None)
            continue
        at = times[i] if times is not None else now
        before = (at.month, at.day) < (born.month, born.day)
        ages.append(at.year - born.year - int(before))
    return {
        "age": ages,
        "bmi_category": _categories(inputs["bmi"], (18.5, 25, 30), BMI_CATEGORIES),
        "glucose_category": _categories(
            inputs["avg_glucose_level"], (100, 126), GLUCOSE_CATEGORIES
        ),
    }


_KERNELS: dict[str, tuple[frozenset[str], Kernel]] = {
    "request_time_features": (
        frozenset({"date_of_birth", "bmi", "avg_glucose_level"}),
        _request_time_features,
    ),
}


def _probe() -> tuple[Columns, list[datetime]]:
    """Edge cases for the kernels' inputs, evaluated at fixed times."""
    births = [
        datetime(1950, 6, 15, tzinfo=UTC),
        datetime(1980, 2, 29, tzinfo=UTC),
        datetime(2000, 1, 1, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC),
        None,
    ]
    times = [
        datetime(2026, 6, 14, 23, tzinfo=UTC),
        datetime(2026, 6, 15, tzinfo=UTC),
        datetime(2027, 2, 28, tzinfo=UTC),
        datetime(2027, 3, 1, tzinfo=UTC),
        datetime(2028, 2, 29, tzinfo=UTC),
        datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC),
    ]
    numbers = [None, 0.0, 18.4, 18.5, 24.99, 25.0, 29.9, 30.0, 99.99, 100.0, 125.9, 126.0, 300.5]
    n = len(births) * len(times)
    rows = [(b, t) for b in births for t in times]
    columns: Columns = {
        "date_of_birth": [b for b, _ in rows],
        "bmi": [numbers[i % len(numbers)] for i in range(n)],
        "avg_glucose_level": [numbers[(i * 5 + 3) % len(numbers)] for i in range(n)],
    }
    return columns, [t for _, t in rows]


@dataclass
class OnDemandStep:
    """Computes the requested outputs of one on-demand view from decoded inputs."""

    view: OnDemandFeatureView
    inputs: list[str]  # declared source features the view reads
    outputs: list[str]  # the outputs requested
    kernel: Kernel | None = None

    def apply(self, inputs: Columns, key: str, keys: list[str]) -> Columns:
        if self.kernel is not None:
            out = self.kernel(inputs, None)
            return {name: out[name] for name in self.outputs}
        return self.run_udf(inputs, key, keys, None)

    def run_udf(
        self, inputs: Columns, key: str, keys: list[str], times: list[datetime] | None
    ) -> Columns:
        """Feast's own evaluation: UDF, then Feast's conversion of each output."""
        from feast.type_map import feast_value_type_to_python_type, python_values_to_proto_values

        data: Columns = {key: list(keys), **{name: inputs[name] for name in self.inputs}}
        if times is not None:
            data["event_timestamp"] = times
        types = {f.name: f.dtype.to_value_type() for f in self.view.features}
        result: Columns = {}
        if self.view.mode == "python":
            transformed = self.view.transform_dict(data)
            for name in self.outputs:
                value = transformed[name]
                values = value if isinstance(value, list) else [value]
                protos = python_values_to_proto_values(values, types[name])
                result[name] = [feast_value_type_to_python_type(p) for p in protos]
            return result
        table = self.view.transform_arrow(pa.Table.from_pydict(data), False)
        for name in self.outputs:
            protos = python_values_to_proto_values(table[name].to_numpy(), types[name])
            result[name] = [feast_value_type_to_python_type(p) for p in protos]
        return result


def _verified(step: OnDemandStep, kernel: Kernel) -> bool:
    columns, times = _probe()
    keys = [f"probe{i}" for i in range(len(times))]
    try:
        want = step.run_udf(columns, "__probe_key", keys, times)
        got = kernel(columns, times)
        return all(got[name] == want[name] for name in step.outputs)
    except Exception as exc:  # the UDF or kernel cannot run the probe: no kernel
        log.warning("on-demand view %s: kernel probe failed: %s", step.view.name, exc)
        return False


def on_demand_step(view: OnDemandFeatureView, outputs: list[str]) -> OnDemandStep | None:
    """The step for ``view``; None when it needs what online reads cannot give it
    (request data) or is written to the online store (read as a plain view)."""
    if view.source_request_sources or view.write_to_online_store:
        return None
    if view.mode not in ("pandas", "python"):
        return None
    inputs = [f.name for p in view.source_feature_view_projections.values() for f in p.features]
    step = OnDemandStep(view=view, inputs=list(dict.fromkeys(inputs)), outputs=outputs)
    known = _KERNELS.get(view.name)
    if known is not None and known[0] == set(step.inputs) and _verified(step, known[1]):
        step.kernel = known[1]
    return step
