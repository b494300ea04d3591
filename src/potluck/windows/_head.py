"""The head of an online window state, parsed once per view and anchor.

Every key's state of a view carries the same head bytes (anchor, horizon, feature
definitions, raw columns: zlib-compressed canonical JSON), so reads and folds parse it
once and keep it by those bytes, with each feature compiled against the raw columns
(column indexes instead of names, the window in microseconds).
"""

from __future__ import annotations

import json
import math
import operator
import zlib
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from potluck.windows import _codec as codec
from potluck.windows.spec import Filter, WindowFeature

__all__ = ["Head", "compiled", "empty_body", "new_head", "us"]

_US = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CMP: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def us(t: datetime) -> int:
    return ((t if t.tzinfo else t.replace(tzinfo=UTC)) - _EPOCH) // _US


def _null(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


class Feature:
    """One feature compiled against the head's raw columns (indexes, not names)."""

    __slots__ = ("column", "filters", "fn", "pick", "spec", "w")

    def __init__(self, spec: WindowFeature, index: Mapping[str, int]) -> None:
        self.spec = spec
        self.fn = spec.function
        self.w = spec.window_us
        self.column = -1 if spec.column is None else index[spec.column]
        self.filters = tuple((index[f.column], f.op, f.value) for f in spec.filter)
        # features with the same window, column and filters read the same raw events:
        # a read picks them once (count, sum and mean of one window share them)
        self.pick = (self.w, self.column, repr(self.filters))

    def counts(self, values: Sequence[Sequence[Any]], i: int) -> bool:
        """Does event ``i`` count: passes the filters, has a value if one is read."""
        for column, op, want in self.filters:
            v = values[column][i]
            if op in ("is_null", "not_null"):
                ok = _null(v) == (op == "is_null")
            elif _null(v):
                ok = False
            elif op in ("in", "not_in"):
                ok = (v in want) == (op == "in")
            else:
                ok = _CMP[op](v, want)
            if not ok:
                return False
        return self.column < 0 or not _null(values[self.column][i])


class Head:
    """The parsed head: anchor, horizon, features and raw columns (one per view+anchor)."""

    def __init__(self, head: bytes) -> None:
        spec = json.loads(zlib.decompress(head))
        self.bytes = head
        self.ts: str = spec["ts"]
        self.a: int = spec["as_of"]
        self.h: int = spec["h"]
        self.columns: list[str] = spec["columns"]
        index = {c: i for i, c in enumerate(self.columns)}
        self.features = [Feature(_feature(s), index) for s in spec["features"]]
        self.by_name = {f.spec.name: f for f in self.features}
        # id(requested list) -> (that list, its compiled features): reads reuse one list
        self.wanted: dict[int, tuple[Sequence[WindowFeature], list[Feature]]] = {}

    def select(self, features: Sequence[WindowFeature] | None) -> list[Feature]:
        if features is None:
            return self.features
        hit = self.wanted.get(id(features))
        if hit is not None and hit[0] is features:
            return hit[1]
        out = []
        for f in features:
            mine = self.by_name.get(f.name)
            if mine is None or mine.spec != f:
                raise ValueError(f"feature {f.name!r} is not in this state as declared")
            out.append(mine)
        if len(self.wanted) > 64:
            self.wanted.clear()
        self.wanted[id(features)] = (features, out)
        return out


_HEADS: dict[bytes, Head] = {}


def compiled(head: bytes) -> Head:
    hit = _HEADS.get(head)
    if hit is None:
        if len(_HEADS) > 256:  # anchors move: old heads go
            _HEADS.clear()
        hit = _HEADS[head] = Head(head)
    return hit


def _spec(f: WindowFeature) -> list[Any]:
    filters = [
        [x.column, x.op, list(x.value) if x.op in ("in", "not_in") else x.value] for x in f.filter
    ]
    return [f.name, f.column, f.function, f.window_us, filters, f.unit]


def _feature(spec: list[Any]) -> WindowFeature:
    name, column, function, window_us, filters, unit = spec
    window = timedelta(microseconds=window_us)
    return WindowFeature(name, column, function, window, tuple(Filter(*x) for x in filters), unit)


def new_head(
    features: Sequence[WindowFeature], timestamp_column: str, as_of: datetime, horizon: timedelta
) -> Head:
    if horizon <= timedelta(0):
        raise ValueError("horizon must be positive")
    spec = {
        "ts": timestamp_column,
        "as_of": us(as_of),
        "h": horizon // _US,
        "features": [_spec(f) for f in features],
        "columns": sorted({c for f in features for c in f.columns}),
    }
    text = json.dumps(spec, sort_keys=True, separators=(",", ":")).encode()
    return compiled(zlib.compress(text, 9))


def empty_body(head: Head) -> bytes:
    return codec.dump_body({f.spec.name: {"n": 0} for f in head.features})
