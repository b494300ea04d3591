"""Window features on a Feast feature view: declared once, read by every engine.

:func:`windowed_view` builds a plain Feast ``FeatureView`` whose fields are the window
outputs (so the registry, ``feast`` CLI and UI list them with their types and a
description stating the aggregation) and whose tags carry the exact specs
(``potluck.windows``: JSON) and the online horizon. The federated offline store computes
them with :mod:`.offline`; materialization writes per-key states (:mod:`.online`);
potluck's online reads evaluate them at the request time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from potluck.windows.online import DEFAULT_HORIZON
from potluck.windows.spec import Filter, WindowFeature

if TYPE_CHECKING:
    from feast import Entity, FeatureView

__all__ = [
    "HORIZON_TAG",
    "WINDOWS_TAG",
    "decode",
    "encode",
    "horizon_of",
    "output_type",
    "window_features_of",
    "windowed_view",
]

WINDOWS_TAG = "potluck.windows"
HORIZON_TAG = "potluck.window_horizon_s"


def encode(features: Sequence[WindowFeature]) -> str:
    return json.dumps(
        [
            {
                "name": f.name,
                "column": f.column,
                "function": f.function,
                "window_us": f.window_us,
                "filter": [
                    [x.column, x.op, list(x.value) if isinstance(x.value, tuple) else x.value]
                    for x in f.filter
                ],
                "unit": f.unit,
            }
            for f in features
        ],
        sort_keys=True,
    )


def decode(text: str) -> list[WindowFeature]:
    out = []
    for item in json.loads(text):
        filters = tuple(Filter(c, op, v) for c, op, v in item["filter"])
        out.append(
            WindowFeature(
                name=item["name"],
                column=item["column"],
                function=item["function"],
                window=timedelta(microseconds=item["window_us"]),
                filter=filters,
                unit=item["unit"],
            )
        )
    return out


def window_features_of(view: Any) -> list[WindowFeature] | None:
    """The window specs of a feature view, or None for an ordinary (latest-value) view."""
    tags = getattr(view, "tags", None) or {}
    text = tags.get(WINDOWS_TAG)
    return decode(text) if text else None


def horizon_of(view: Any) -> timedelta:
    tags = getattr(view, "tags", None) or {}
    seconds = tags.get(HORIZON_TAG)
    return timedelta(seconds=float(seconds)) if seconds else DEFAULT_HORIZON


def output_type(feature: WindowFeature, source: pa.Schema) -> pa.DataType:
    """The Arrow type of a window output over a source of schema ``source``."""
    if feature.function in ("count", "count_distinct"):
        return pa.int64()
    if feature.function in ("mean", "stddev", "time_since_last"):
        return pa.float64()
    column = source.field(feature.column).type if feature.column else pa.float64()
    if feature.function == "sum":
        return pa.int64() if pa.types.is_integer(column) else pa.float64()
    return column  # min, max, last


def _describe(f: WindowFeature) -> str:
    what = f"{f.function}({f.column or 'events'})"
    where = " AND ".join(f"{x.column} {x.op} {x.value!r}" for x in f.filter)
    unit = f" in {f.unit}" if f.function == "time_since_last" else ""
    return f"{what}{unit} over events in (t - {f.window}, t]" + (f" where {where}" if where else "")


def windowed_view(
    *,
    name: str,
    entities: Sequence[Entity],
    source: Any,
    source_schema: pa.Schema,
    features: Sequence[WindowFeature],
    horizon: timedelta = DEFAULT_HORIZON,
    description: str = "",
    owner: str = "",
    tags: Mapping[str, str] | None = None,
    online: bool = True,
    ttl: timedelta | None = None,
) -> FeatureView:
    """A Feast feature view of window features over ``source`` (an event source).

    ``ttl`` (default: the longest window) is the view's Feast TTL: it bounds the first
    incremental materialization window; window values themselves age out online by the
    ``horizon`` (a state anchored at ``A`` answers up to ``A + horizon``)."""
    from feast import FeatureView, Field
    from feast.type_map import pa_to_feast_value_type
    from feast.types import from_value_type

    names = [f.name for f in features]
    if len(set(names)) != len(names):
        raise ValueError(f"window feature names repeat in {name}: {names}")
    fields = [
        Field(
            name=f.name,
            dtype=from_value_type(pa_to_feast_value_type(str(output_type(f, source_schema)))),
            description=_describe(f),
        )
        for f in features
    ]
    longest = max(f.window for f in features)
    return FeatureView(
        name=name,
        entities=list(entities),
        ttl=ttl or longest,  # by default: nothing older than the longest window counts
        schema=fields,
        source=source,
        online=online,
        description=description,
        owner=owner,
        tags={
            **dict(tags or {}),
            WINDOWS_TAG: encode(features),
            HORIZON_TAG: str(horizon.total_seconds()),
        },
    )
