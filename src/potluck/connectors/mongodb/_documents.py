"""Arrow <-> MongoDB documents, and the pushed-down aggregation pipeline (private).

Dotted column names are nested fields (``address.city`` is ``{"address": {"city": ..}}``)
both ways. BSON has no date or unsigned type and its dates are milliseconds, so:
dates are stored as midnight-UTC dates, timestamps are floored to the
millisecond on write (the window bounds of a read are rounded inwards to the
millisecond accordingly, which keeps ``start <= t <= end`` exact on stored
values), and the exact Arrow schema is kept beside the collection so a read
casts back to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from potluck.connectors._arrow import TS, normalize, request_keys, utc
from potluck.connectors.base import ReadRequest

__all__ = [
    "collisions",
    "flatten",
    "from_documents",
    "infer_schema",
    "match_filter",
    "pipeline",
    "storable",
    "to_documents",
]

_STORABLE = {pa.null(), pa.bool_(), pa.float32(), pa.float64(), pa.string(), pa.large_string()}
_STORABLE |= {pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.date32(), TS}
_STORABLE |= {pa.uint8(), pa.uint16(), pa.uint32(), pa.binary(), pa.large_binary()}
_MS = timedelta(milliseconds=1)


def storable(schema: pa.Schema) -> list[str]:
    """Columns BSON cannot hold exactly, as ``name (type)`` (uint64 does not fit int64)."""
    return [f"{f.name} ({f.type})" for f in schema if f.type not in _STORABLE]


def collisions(names: Sequence[str]) -> list[str]:
    """Names that cannot be document fields: reserved, ``$``-led, empty parts, or a field
    that is also the parent of another (``a`` and ``a.b``)."""
    bad = [n for n in names if n == "_id" or n.startswith("$") or "\x00" in n or "" in n.split(".")]
    taken = set(names)
    for name in names:
        parts = name.split(".")
        bad += [name for i in range(1, len(parts)) if ".".join(parts[:i]) in taken]
    return sorted(set(bad))


def _storage(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if column.type == TS:
        return pc.floor_temporal(column, 1, "millisecond")
    if pa.types.is_date32(column.type):
        return column.cast(TS)
    return column


def to_documents(batch: pa.RecordBatch) -> list[dict[str, Any]]:
    """One document per row, dotted columns nested."""
    names = batch.schema.names
    values = [_storage(pa.chunked_array([c])).to_pylist() for c in batch.columns]
    if not any("." in n for n in names):
        return [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]
    paths = [n.split(".") for n in names]
    documents = []
    for row in zip(*values, strict=True):
        document: dict[str, Any] = {}
        for path, value in zip(paths, row, strict=True):
            node = document
            for part in path[:-1]:
                node = node.setdefault(part, {})
            node[path[-1]] = value
        documents.append(document)
    return documents


def flatten(document: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested fields to dotted names, at any depth; ``_id`` dropped."""
    flat: dict[str, Any] = {}
    for key, value in document.items():
        if not prefix and key == "_id":
            continue
        if isinstance(value, Mapping):
            flat |= flatten(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _utc(value: Any) -> Any:
    # pymongo returns naive UTC datetimes unless the client is tz-aware: both mean UTC.
    return utc(value) if isinstance(value, datetime) else value


def _column(values: list[Any], field: pa.Field) -> pa.Array:
    t = field.type
    if pa.types.is_null(t):
        return pa.nulls(len(values))
    if t == TS or pa.types.is_date32(t):
        return pa.array([_utc(v) for v in values], TS).cast(t)
    if pa.types.is_integer(t):
        return pa.array(values, pa.int64()).cast(t)
    if pa.types.is_floating(t):
        return pa.array(values, pa.float64()).cast(t)
    return pa.array(values, t)


def from_documents(documents: Iterable[Mapping[str, Any]], schema: pa.Schema) -> pa.Table:
    """Documents (nested or not) as a table of exactly ``schema``."""
    flat = [flatten(d) for d in documents]
    arrays = [_column([row.get(f.name) for row in flat], f) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def infer_schema(documents: Iterable[Mapping[str, Any]]) -> pa.Schema:
    """The schema of a collection potluck did not write, inferred from its documents."""
    flat = [{k: _utc(v) for k, v in flatten(d).items()} for d in documents]
    names = dict.fromkeys(k for row in flat for k in row)  # every field, first-seen order
    table = pa.table({n: pa.array([row.get(n) for row in flat]) for n in names})
    schema: pa.Schema = normalize(table).schema
    return schema


def _bound(moment: datetime, up: bool) -> datetime:
    """A bound on millisecond-floored stored times: ``start`` rounds up, ``end`` down."""
    moment = utc(moment)
    floored = moment - timedelta(microseconds=moment.microsecond % 1000)
    return floored + _MS if up and floored != moment else floored


def _key_values(field: pa.Field, keys: Sequence[str | None]) -> list[Any]:
    array = request_keys(field, keys)
    if array.type == TS or pa.types.is_date32(array.type):
        return _storage(pa.chunked_array([array], array.type)).to_pylist()
    values: list[Any] = array.to_pylist()
    return values


def match_filter(schema: pa.Schema, request: ReadRequest) -> dict[str, Any]:
    """The request's row predicate as a MongoDB filter (``$in`` keys, ``$gte/$lte`` window)."""
    conditions: dict[str, dict[str, Any]] = {}
    if request.keys is not None and request.key_column is not None:
        field = schema.field(request.key_column)
        conditions.setdefault(field.name, {})["$in"] = _key_values(field, request.keys)
    if request.timestamp_column is not None:
        window = conditions.setdefault(request.timestamp_column, {})
        if request.start is not None:
            window["$gte"] = _bound(request.start, up=True)
        if request.end is not None:
            window["$lte"] = _bound(request.end, up=False)
    return {name: ops for name, ops in conditions.items() if ops}


def pipeline(schema: pa.Schema, names: Sequence[str], request: ReadRequest) -> list[dict[str, Any]]:
    """``$match`` (keys, window) -> ``$sort`` by ``_id`` (insertion order) -> ``$project``."""
    match = match_filter(schema, request)
    stages: list[dict[str, Any]] = [{"$match": match}] if match else []
    stages.append({"$sort": {"_id": 1}})
    stages.append({"$project": {"_id": 0, **dict.fromkeys(names, 1)}})
    return stages
