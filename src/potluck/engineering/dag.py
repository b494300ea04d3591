"""Feature functions wired by their parameter names (the Hamilton convention).

A function named ``risk_score(age, hypertension, ...)`` computes the node
``risk_score`` from the nodes ``age``, ``hypertension`` ... Nodes are either
inputs (columns handed in) or the public functions of the deployment's modules.
:func:`evaluate` computes just what the requested outputs need, each node once.

Written by hand rather than with Hamilton's driver: the engine only needs name
resolution over pandas Series (about sixty lines), and Spark's Python workers run
it per Arrow batch, where a driver's graph validation per batch would cost more
than the features.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from potluck.errors import ConfigurationError

__all__ = ["evaluate", "functions_of", "requirements"]

Node = Callable[..., Any]


@lru_cache(maxsize=32)
def functions_of(modules: tuple[str, ...]) -> dict[str, Node]:
    """name -> function: every public function defined in ``modules`` (by import name).

    Functions imported from elsewhere and names starting with ``_`` are not nodes. Two
    modules defining the same node name is a configuration error.
    """
    nodes: dict[str, Node] = {}
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            raise ConfigurationError(f"feature module '{name}' does not import: {exc}") from None
        for attr, value in vars(module).items():
            if attr.startswith("_") or not inspect.isfunction(value):
                continue
            if value.__module__ != module.__name__:
                continue
            if attr in nodes:
                raise ConfigurationError(
                    f"feature function '{attr}' is defined twice ({nodes[attr].__module__}, {name})"
                )
            nodes[attr] = value
    return nodes


def _parameters(function: Node) -> list[str]:
    return list(inspect.signature(function).parameters)


def evaluate(
    functions: Mapping[str, Node], inputs: Mapping[str, Any], outputs: Iterable[str]
) -> dict[str, Any]:
    """The requested ``outputs`` computed from ``inputs`` through ``functions``.

    An input shadows a function of the same name (a column handed in is taken as is).
    Unknown names and cycles are configuration errors naming the path that needs them.
    """
    values: dict[str, Any] = dict(inputs)
    computing: list[str] = []

    def node(name: str) -> Any:
        if name in values:
            return values[name]
        function = functions.get(name)
        if function is None:
            path = " <- ".join([name, *reversed(computing)]) if computing else name
            known = ", ".join(sorted(set(functions) | set(inputs)))
            raise ConfigurationError(
                f"no input or feature function named '{name}' (needed by {path}); known: {known}"
            )
        if name in computing:
            cycle = " -> ".join([*computing[computing.index(name) :], name])
            raise ConfigurationError(f"feature functions form a cycle: {cycle}")
        computing.append(name)
        arguments = [node(p) for p in _parameters(function)]
        computing.pop()
        values[name] = function(*arguments)
        return values[name]

    return {name: node(name) for name in outputs}


def requirements(functions: Mapping[str, Node], outputs: Sequence[str]) -> set[str]:
    """Leaf names (not functions) that ``outputs`` need: the inputs to provide."""
    needed: set[str] = set()
    seen: set[str] = set()
    stack = list(outputs)
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        function = functions.get(name)
        if function is None:
            needed.add(name)
        else:
            stack.extend(_parameters(function))
    return needed
