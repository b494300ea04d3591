"""Declaring a sliding-window feature: :class:`WindowFeature` and its filter.

The rule, everywhere (offline kernel, online state, tests, benchmark): the value at
entity time ``t`` over window ``w`` aggregates the key's events with

    t - w < event_time <= t

Functions and what an empty window gives (no event passes the filter, or every
value is null):

    function         value                                   empty window
    count            events (column None) / non-null values   0
    count_distinct   distinct non-null values                 0
    sum              sum of non-null values                   0   (a sum of nothing)
    mean, min, max   of non-null values                       null
    stddev           sample standard deviation (ddof=1)       null (also with 1 value)
    last             value of the latest non-null event       null
    time_since_last  t - time of the latest event, in         null
                     seconds (``unit="minutes"``: minutes)

Nulls: value functions ignore events whose column is null (float NaN counts as
null). ``count`` with ``column=None`` counts events whatever their values; with a
column it counts non-null values (SQL ``COUNT(col)``). ``time_since_last`` with a
column looks at events whose value is non-null, without one at every event.
``last`` and ``time_since_last`` obey the window like everything else: a user who
wants "ever" declares a long window. Events with equal timestamps keep their input
order, so ``last`` among ties is the one that came later in the input.

A filter keeps the events whose filter column satisfies ``op value`` (a
:class:`Filter`, or a ``(column, op, value)`` triple); several filters are ANDed.
A null filter column never passes (except ``is_null``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import Any, Literal, get_args

from feast.aggregation import Aggregation

__all__ = [
    "FUNCTIONS",
    "OPS",
    "Filter",
    "Function",
    "WindowFeature",
    "feast_tags",
    "to_feast_aggregation",
]

Function = Literal[
    "count",
    "sum",
    "mean",
    "min",
    "max",
    "stddev",
    "count_distinct",
    "last",
    "time_since_last",
]
FUNCTIONS: tuple[str, ...] = get_args(Function)
Op = Literal["==", "!=", "<", "<=", ">", ">=", "in", "not_in", "is_null", "not_null"]
OPS: tuple[str, ...] = get_args(Op)

# Functions whose value must come from a column (the others can count events).
_NEEDS_COLUMN = frozenset({"sum", "mean", "min", "max", "stddev", "count_distinct", "last"})
# Functions Feast's Aggregation understands by these names (its tiling treats unknown
# names as algebraic, which would be wrong for ours, so those are tagged instead).
_FEAST_NAMES = {
    "count": "count",
    "sum": "sum",
    "mean": "mean",
    "min": "min",
    "max": "max",
    "stddev": "stddev",
    "count_distinct": "count_distinct",
}


@dataclass(frozen=True)
class Filter:
    """Keep events with ``column op value``; ``in``/``not_in`` take a tuple of values."""

    column: str
    op: Op
    value: Any = None

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise ValueError(f"filter op {self.op!r} is not one of {OPS}")
        if self.op in ("in", "not_in"):
            # frozen + hashable: a list given by the user becomes a tuple
            object.__setattr__(self, "value", tuple(self.value))


FilterLike = Filter | tuple[str, str, Any]


def _filters(spec: FilterLike | Sequence[FilterLike] | None) -> tuple[Filter, ...]:
    """Normalize None / one filter / one triple / a sequence of them to a tuple."""
    if spec is None:
        return ()
    if isinstance(spec, Filter):
        return (spec,)
    if isinstance(spec, tuple) and len(spec) == 3 and isinstance(spec[0], str):
        return (Filter(spec[0], spec[1], spec[2]),)  # type: ignore[arg-type]
    out: list[Filter] = []
    for item in spec:
        out.extend(_filters(item))  # type: ignore[arg-type]
    return tuple(out)


@dataclass(frozen=True)
class WindowFeature:
    """``function`` of ``column`` over the events in ``(t - window, t]``, per key."""

    name: str
    column: str | None
    function: Function
    window: timedelta
    filter: tuple[Filter, ...] = field(default=())
    unit: Literal["seconds", "minutes"] = "seconds"  # time_since_last only

    def __post_init__(self) -> None:
        object.__setattr__(self, "filter", _filters(self.filter))  # type: ignore[arg-type]
        if self.function not in FUNCTIONS:
            raise ValueError(f"{self.name}: function {self.function!r} not in {FUNCTIONS}")
        if self.function in _NEEDS_COLUMN and not self.column:
            raise ValueError(f"{self.name}: {self.function} needs a column")
        if self.window <= timedelta(0):
            raise ValueError(f"{self.name}: window must be positive, got {self.window}")
        if self.window % timedelta(microseconds=1):
            # timestamps are compared as integer microseconds
            raise ValueError(f"{self.name}: window must be whole microseconds")
        if self.unit not in ("seconds", "minutes"):
            raise ValueError(f"{self.name}: unit must be seconds or minutes")

    @cached_property
    def window_us(self) -> int:  # hot in the online fold: computed once
        return self.window // timedelta(microseconds=1)

    @property
    def columns(self) -> tuple[str, ...]:
        """Event columns this feature reads (value column, then filter columns)."""
        cols = [self.column] if self.column else []
        cols += [f.column for f in self.filter if f.column not in cols]
        return tuple(cols)


def to_feast_aggregation(feature: WindowFeature) -> Aggregation:
    """Feast's registry form of ``feature``: column, function, window (as
    ``time_window``; the slide defaults to it) and name.

    Feast knows count/sum/mean/min/max/stddev/count_distinct by these names. Ours that
    it does not (``last``, ``time_since_last``) keep a ``potluck:`` tag in ``function``
    so no Feast engine mistakes them for one of its own (its tiling would treat an
    unknown name as algebraic). Filters and the unit travel in :func:`feast_tags`."""
    function = _FEAST_NAMES.get(feature.function, f"potluck:{feature.function}")
    return Aggregation(
        column=feature.column or "",
        function=function,
        time_window=feature.window,
        name=feature.name,
    )


def feast_tags(feature: WindowFeature) -> dict[str, str]:
    """What an :class:`Aggregation` cannot hold, as tags for the feature view."""
    prefix = f"potluck.window.{feature.name}."
    tags: dict[str, str] = {prefix + "function": feature.function}
    if feature.filter:
        tags[prefix + "filter"] = " AND ".join(
            f"{f.column} {f.op} {f.value!r}" for f in feature.filter
        )
    if feature.function == "time_since_last":
        tags[prefix + "unit"] = feature.unit
    return tags
