"""Arrow and request helpers shared by the embedded connectors (private).

Everything here is what the sqlite, parquet and jsonl connectors used to carry
a copy of: option validation, the write-mode and read-request checks, the
timestamp normalisation applied before every write, the append check, and the
request's row predicate as an Arrow expression. Errors are raised through the
calling connector's error factory, so they keep naming its source.
"""

from __future__ import annotations

import base64
import functools
import operator
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

import pyarrow as pa
import pyarrow.compute as pc

from potluck.errors import PotluckError, RequestError, SourceError

if TYPE_CHECKING:
    from potluck.connectors.base import ReadRequest

__all__ = [
    "TS",
    "ErrorFactory",
    "check_write_mode",
    "conform",
    "driver_errors",
    "filter_columns",
    "filter_expression",
    "normalize",
    "request_keys",
    "resolve",
    "schema_from_ipc",
    "schema_to_ipc",
    "utc",
]

TS = pa.timestamp("us", "UTC")


class ErrorFactory(Protocol):
    """A connector's ``_error``: a SourceError (or SourceSchemaError) naming its source."""

    def __call__(self, detail: str, schema: bool = False) -> SourceError: ...


@contextmanager
def driver_errors(error: ErrorFactory, *kinds: type[Exception]) -> Iterator[None]:
    """Driver exceptions of ``kinds`` leave as a SourceError naming the source."""
    try:
        yield
    except PotluckError:
        raise
    except kinds as exc:
        raise error(f"{type(exc).__name__}: {exc}") from exc


def check_write_mode(mode: str) -> None:
    if mode not in ("replace", "append"):
        raise RequestError(f"unknown write mode '{mode}' (use 'replace' or 'append')")


def utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def normalize(data: pa.Table) -> pa.Table:
    """Timestamps to ``timestamp[us, UTC]`` (naive = UTC, ns floored), dictionaries decoded."""
    fields, columns = [], []
    for field, column in zip(data.schema, data.columns, strict=True):
        if pa.types.is_dictionary(field.type):
            column = column.cast(field.type.value_type)
        if pa.types.is_timestamp(column.type) and column.type != TS:
            column = column.cast(pa.timestamp(column.type.unit, "UTC"))
            if column.type.unit == "ns":
                column = pc.floor_temporal(column, 1, "microsecond")
            column = column.cast(TS)
        fields.append(pa.field(field.name, column.type, field.nullable, field.metadata))
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def conform(data: pa.Table, existing: pa.Schema, error: ErrorFactory) -> pa.Table:
    """Appended data must carry the table's columns (any order), castable to its types."""
    extra = sorted(set(data.column_names) - set(existing.names))
    absent = sorted(set(existing.names) - set(data.column_names))
    if extra or absent:
        raise error(
            f"appended data does not match the table: missing {absent}, unexpected {extra}", True
        )
    try:
        return data.select(existing.names).cast(existing)
    except (pa.ArrowException, ValueError) as exc:
        raise error(f"appended data does not fit the table's types: {exc}", True) from exc


def resolve(schema: pa.Schema, request: ReadRequest, error: ErrorFactory) -> list[str]:
    """The output columns, after checking every name the request mentions exists."""
    if isinstance(request.columns, str) or isinstance(request.keys, str):
        raise RequestError("columns and keys are lists of names, not one string")
    names = list(schema.names if request.columns is None else request.columns)
    if len(set(names)) != len(names):
        raise RequestError(f"columns listed more than once in {names}")
    if request.keys is not None and request.key_column is None:
        raise RequestError("keys given without a key_column")
    windowed = request.start is not None or request.end is not None
    if windowed and request.timestamp_column is None:
        raise RequestError("start/end given without a timestamp_column")
    wanted = [*names, request.key_column, request.timestamp_column]
    missing = list(dict.fromkeys(n for n in wanted if n is not None and n not in schema.names))
    if missing:
        raise error(
            f"table '{request.table}' has no column(s) {', '.join(missing)} "
            f"(it has: {', '.join(schema.names)})",
            True,
        )
    ts = request.timestamp_column
    if windowed and ts is not None and not pa.types.is_timestamp(schema.field(ts).type):
        raise error(f"column '{ts}' is {schema.field(ts).type}, not a timestamp", True)
    return names


def request_keys(field: pa.Field, keys: Sequence[str | None]) -> pa.Array:
    """The requested keys (strings) as values of the key column's type."""
    try:
        return pa.array([k for k in keys if k is not None]).cast(field.type)
    except pa.ArrowException as exc:
        raise RequestError(f"keys do not fit column '{field.name}' ({field.type}): {exc}") from exc


def filter_columns(request: ReadRequest) -> list[str]:
    """The columns :func:`filter_expression`'s predicate reads."""
    keyed = request.keys is not None and request.key_column is not None
    named = (request.key_column if keyed else None, request.timestamp_column)
    return [c for c in named if c is not None]


def filter_expression(schema: pa.Schema, request: ReadRequest) -> pc.Expression | None:
    """The request's row predicate as an Arrow expression (None: every row)."""
    parts: list[pc.Expression] = []
    if request.keys is not None and request.key_column is not None:
        field = schema.field(request.key_column)
        parts.append(pc.field(field.name).isin(request_keys(field, request.keys)))
    if request.timestamp_column is not None:
        ts = pc.field(request.timestamp_column)
        # Bounds in the column's own type: a file another tool wrote may hold naive
        # (taken as UTC) or nanosecond timestamps, which Arrow will not compare with TS.
        kind = schema.field(request.timestamp_column).type

        def bound(moment: datetime) -> pa.Scalar:
            scalar = pa.scalar(utc(moment), type=TS)
            return scalar if kind == TS or not pa.types.is_timestamp(kind) else scalar.cast(kind)

        if request.start is not None:
            parts.append(ts >= bound(request.start))
        if request.end is not None:
            parts.append(ts <= bound(request.end))
    return functools.reduce(operator.and_, parts) if parts else None


def schema_to_ipc(schema: pa.Schema) -> str:
    """The exact Arrow schema as base64 IPC bytes (what the metadata sidecars store)."""
    return base64.b64encode(schema.serialize().to_pybytes()).decode("ascii")


def schema_from_ipc(text: str) -> pa.Schema:
    """Inverse of :func:`schema_to_ipc`; ValueError or ArrowException if corrupt."""
    schema: pa.Schema = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(text)))
    return schema
