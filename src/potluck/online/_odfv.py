"""On-demand features on the online read path, with the values Feast computes.

The generic path does what Feast's ``get_online_features`` does: the inputs go
into an Arrow table, through the view's own ``transform_arrow`` (pandas mode) or
``transform_dict`` (python mode), and each output through Feast's value
conversion. Exact, but a pandas UDF costs milliseconds even for one row.

So a view may also name a *kernel*, a plain-Python version of its UDF for small
batches, in its ``potluck.kernel`` tag (``"package.module:NAME"``, a
:class:`KernelSpec`; the domain packages hold them). A kernel is only trusted
after it agreed with the UDF, value for value, on its own probe batch of edge
cases when the read plan is built; if it cannot be imported, reads other inputs,
disagrees or fails, the UDF is used. A kernel that drifts from its UDF is
therefore slow, never wrong on the probed cases.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa
from feast.on_demand_feature_view import OnDemandFeatureView

__all__ = [
    "KERNEL_TAG",
    "Columns",
    "Kernel",
    "KernelSpec",
    "OnDemandStep",
    "kernel_of",
    "on_demand_step",
]

log = logging.getLogger(__name__)

KERNEL_TAG = "potluck.kernel"

Columns = dict[str, list[Any]]
# kernel(inputs, times) -> outputs; ``times`` is the per-row evaluation time, or None for now
Kernel = Callable[[Columns, list[datetime] | None], Columns]


@dataclass(frozen=True)
class KernelSpec:
    """A plain-Python twin of an on-demand view's UDF."""

    inputs: frozenset[str]  # the source features it reads: the view's, exactly
    compute: Kernel
    probe: Callable[[], tuple[Columns, list[datetime]]]  # edge cases, evaluation times


def kernel_of(view: OnDemandFeatureView) -> KernelSpec | None:
    """The kernel the view's tag names; None (logged) when it names none that loads."""
    target = (view.tags or {}).get(KERNEL_TAG)
    if not target:
        return None
    module, _, name = target.partition(":")
    try:
        spec = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as exc:
        log.warning("on-demand view %s: kernel %r not loaded: %s", view.name, target, exc)
        return None
    if not isinstance(spec, KernelSpec):
        log.warning("on-demand view %s: %r is not a KernelSpec", view.name, target)
        return None
    return spec


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


def _verified(step: OnDemandStep, spec: KernelSpec) -> bool:
    columns, times = spec.probe()
    keys = [f"probe{i}" for i in range(len(times))]
    try:
        want = step.run_udf(columns, "__probe_key", keys, times)
        got = spec.compute(columns, times)
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
    spec = kernel_of(view)
    if spec is not None and spec.inputs == set(step.inputs) and _verified(step, spec):
        step.kernel = spec.compute
    return step
