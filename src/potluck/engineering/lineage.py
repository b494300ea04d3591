"""Which sources each engineered view is computed from, read off the feature DAG.

The registry cannot know it (an engineered view reads its own output table); the
deployment's functions can: every leaf a view's features need is an input column of
some :class:`~potluck.deployment.AsOfInput` or a running max of some source.
"""

from __future__ import annotations

from potluck.deployment import Deployment
from potluck.engineering.dag import functions_of, requirements

__all__ = ["engineered_inputs"]


def engineered_inputs(deployment: Deployment) -> dict[str, list[str]]:
    """engineered view -> the logical sources its features read, in declaration order."""
    spec = deployment.engineering
    if spec is None:
        return {}
    functions = functions_of(tuple(spec.modules))
    provider: dict[str, set[str]] = {}
    for source, spec_in in spec.inputs.items():
        for node in spec_in.columns.values():
            provider.setdefault(node, set()).add(source)
    for rm in spec.running_max:
        provider.setdefault(rm.output, set()).add(rm.source)
    out: dict[str, list[str]] = {}
    for view, schema in spec.outputs.items():
        leaves = requirements(functions, [f.name for f in schema])
        sources = set().union(*(provider.get(leaf, set()) for leaf in leaves))
        out[view] = [s for s in deployment.sources if s in sources]
    return out
