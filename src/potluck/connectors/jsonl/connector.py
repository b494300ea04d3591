"""JSON-lines document connector: the embedded stand-in for a MongoDB collection.

A table is ``{root}/{table}.jsonl``, one JSON document per line, plus a sidecar
``{table}.schema.json`` holding its Arrow schema: JSON alone cannot tell int64
from float64, a date from a string, or keep a column that is null everywhere,
so the sidecar is what lets read return exactly what was written. Timestamps
are ISO-8601 strings with an explicit ``+00:00`` offset, dates ``YYYY-MM-DD``.
JSON has no NaN: NaN is stored as null (as SQLite does); infinities are refused.

Documents are read as MongoDB stores them: nested objects
(``{"address": {"city": ..}}``) come back as dotted columns (``address.city``),
and a dotted column is written as the nested object it stands for. Files
without a sidecar (hand-written, exported) are read with pyarrow's type
inference instead.

A JSON file has no index or statistics, so nothing can be pushed down: the
whole file is parsed (by Arrow's multithreaded reader, with the explicit
schema) and the request is then applied with Arrow compute. Writes are atomic
per file (temp file + ``os.replace``); the sidecar is only rewritten when the
schema changes, so appends and same-schema replaces are fully atomic. Append
rewrites the file the same way; one writer per table is assumed.
"""

from __future__ import annotations

import base64
import functools
import json
import operator
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Self

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
from pydantic import ValidationError

from potluck.connectors.base import Connector, ReadRequest, WriteMode
from potluck.connectors.jsonl.config import JsonlConfig
from potluck.errors import (
    ConfigurationError,
    PotluckError,
    RequestError,
    SourceError,
    SourceSchemaError,
)

__all__ = ["JsonlConnector"]

_TS = pa.timestamp("us", "UTC")
_STORABLE = [pa.null(), pa.bool_(), pa.float32(), pa.float64(), pa.string(), pa.large_string()]
_STORABLE += [pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.date32(), _TS]
_STORABLE += [pa.uint8(), pa.uint16(), pa.uint32(), pa.uint64()]
# Type names accepted in a sidecar's "columns" list (Arrow's own spelling, plus aliases
# for hand-written sidecars).
_TYPES: dict[str, pa.DataType] = {str(t): t for t in _STORABLE}
_TYPES |= {"timestamp": _TS, "date": pa.date32(), "float64": pa.float64(), "boolean": pa.bool_()}
_BATCH_ROWS = 10_000
# One encoder for every line: json.dumps with options builds a new encoder per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
ErrorFactory = Callable[[str, bool], SourceError]


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _normalize(data: pa.Table) -> pa.Table:
    """Timestamps to ``timestamp[us, UTC]`` (naive = UTC, ns floored), dictionaries decoded."""
    fields, columns = [], []
    for field, column in zip(data.schema, data.columns, strict=True):
        if pa.types.is_dictionary(field.type):
            column = column.cast(field.type.value_type)
        if pa.types.is_timestamp(column.type) and column.type != _TS:
            column = column.cast(pa.timestamp(column.type.unit, "UTC"))
            if column.type.unit == "ns":
                column = pc.floor_temporal(column, 1, "microsecond")
            column = column.cast(_TS)
        fields.append(pa.field(field.name, column.type, field.nullable, field.metadata))
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def _conform(data: pa.Table, existing: pa.Schema, error: ErrorFactory) -> pa.Table:
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


def _resolve(schema: pa.Schema, request: ReadRequest, error: ErrorFactory) -> list[str]:
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


def _filter(schema: pa.Schema, request: ReadRequest) -> pc.Expression | None:
    """The request's row predicate as an Arrow expression (None: every row)."""
    parts: list[pc.Expression] = []
    if request.keys is not None and request.key_column is not None:
        field = schema.field(request.key_column)
        try:  # keys arrive as strings; compare them as the column's type
            keys = pa.array([k for k in request.keys if k is not None]).cast(field.type)
        except pa.ArrowException as exc:
            raise RequestError(
                f"keys do not fit column '{field.name}' ({field.type}): {exc}"
            ) from exc
        parts.append(pc.field(field.name).isin(keys))
    if request.timestamp_column is not None:
        ts = pc.field(request.timestamp_column)
        if request.start is not None:
            parts.append(ts >= pa.scalar(_utc(request.start), type=_TS))
        if request.end is not None:
            parts.append(ts <= pa.scalar(_utc(request.end), type=_TS))
    return functools.reduce(operator.and_, parts) if parts else None


def _parse_schema(schema: pa.Schema) -> pa.Schema:
    """The nested document schema that dotted columns stand for (dates parsed later)."""
    tree: dict[str, Any] = {}
    for field in schema:
        *parents, leaf = field.name.split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"column '{field.name}' nests under a non-object column")
        if leaf in node:
            raise ValueError(f"column '{field.name}' collides with a nested object")
        node[leaf] = pa.string() if pa.types.is_date32(field.type) else field.type

    def build(node: dict[str, Any]) -> list[pa.Field]:
        return [
            pa.field(k, pa.struct(build(v)) if isinstance(v, dict) else v) for k, v in node.items()
        ]

    return pa.schema(build(tree))


def _flatten(table: pa.Table) -> pa.Table:
    """Nested objects to dotted columns, at any depth."""
    while any(pa.types.is_struct(t) for t in table.schema.types):
        table = table.flatten()
    return table


def _json_values(column: pa.ChunkedArray) -> list[Any]:
    """One column as JSON-ready Python values, converted column-wise by Arrow."""
    if pa.types.is_timestamp(column.type):
        return [
            None if s is None else s + "+00:00"
            for s in pc.strftime(column, "%Y-%m-%dT%H:%M:%S").to_pylist()
        ]
    if pa.types.is_date32(column.type):
        values: list[Any] = pc.strftime(column, "%Y-%m-%d").to_pylist()
        return values
    if pa.types.is_floating(column.type) and pc.any(pc.is_nan(column)).as_py():
        return [None if v != v else v for v in column.to_pylist()]  # NaN -> null
    values = column.to_pylist()
    return values


def _encode_lines(data: pa.Table) -> Iterator[str]:
    """One compact JSON document per row; dotted columns become nested objects."""
    paths = [name.split(".") for name in data.column_names]
    nested = any(len(p) > 1 for p in paths)
    for batch in data.to_batches(max_chunksize=_BATCH_ROWS):
        for row in zip(*(_json_values(pa.chunked_array([c])) for c in batch.columns), strict=True):
            doc: dict[str, Any] = {}
            if not nested:
                doc = dict(zip(data.column_names, row, strict=True))
            else:
                for path, value in zip(paths, row, strict=True):
                    node = doc
                    for part in path[:-1]:
                        node = node.setdefault(part, {})
                    node[path[-1]] = value
            yield _ENCODER.encode(doc) + "\n"


def _sidecar_text(schema: pa.Schema) -> str:
    # Readable (and hand-writable) column list; the IPC bytes, when present, are exact.
    columns = [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in schema]
    ipc = base64.b64encode(schema.serialize().to_pybytes()).decode("ascii")
    return json.dumps({"columns": columns, "arrow_ipc": ipc}, indent=2) + "\n"


class JsonlConnector(Connector):
    """Arrow tables in and out of a directory of JSON-lines document files."""

    kind: ClassVar[str] = "jsonl"

    def __init__(self, source: str, config: JsonlConfig) -> None:
        super().__init__(source)
        self.config = config

    @classmethod
    def from_options(cls, source: str, options: Mapping[str, Any]) -> Self:
        """Validate plain profile options; bad ones are a ConfigurationError naming the source."""
        try:
            config = JsonlConfig.model_validate(dict(options))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'options'}: {e['msg']}"
                for e in exc.errors()
            )
            raise ConfigurationError(
                f"source '{source}' ({cls.kind} connector): invalid options: {problems}"
            ) from exc
        return cls(source, config)

    def _error(self, detail: str, schema: bool = False) -> SourceError:
        cls = SourceSchemaError if schema else SourceError
        return cls(self.source, self.kind, detail)

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Driver errors leave as SourceError naming this source."""
        try:
            yield
        except PotluckError:
            raise
        except (OSError, ValueError, pa.ArrowException) as exc:
            raise self._error(f"{type(exc).__name__}: {exc}") from exc

    def _path(self, table: str, suffix: str = ".jsonl") -> Path:
        """The table's file; names that could leave the root directory are refused."""
        bad = not table or table.startswith(".") or "\x00" in table
        if bad or any(sep in table for sep in (os.sep, os.altsep, "/", "\\") if sep):
            raise self._error(f"invalid table name {table!r}: it must be a plain file name")
        return self.config.root / f"{table}{suffix}"

    def _existing(self, table: str) -> Path:
        path = self._path(table)
        if not path.is_file():
            raise self._error(f"table '{table}' is missing (no file {path})")
        return path

    def _sidecar_schema(self, table: str) -> pa.Schema | None:
        side = self._path(table, ".schema.json")
        try:
            doc = json.loads(side.read_text("utf-8"))
            if "arrow_ipc" in doc:
                ipc = base64.b64decode(doc["arrow_ipc"])
                schema: pa.Schema = pa.ipc.read_schema(pa.py_buffer(ipc))
                return schema
            return pa.schema(
                pa.field(c["name"], _TYPES[c["type"]], c.get("nullable", True))
                for c in doc["columns"]
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, pa.ArrowException) as exc:
            detail = f"unreadable schema sidecar {side}: {type(exc).__name__}: {exc}"
            raise self._error(detail, True) from exc

    def _load(self, table: str) -> pa.Table:
        """The whole collection as a flat table with its declared (or inferred) schema."""
        path = self._existing(table)
        schema = self._sidecar_schema(table)
        with self._errors():
            empty = path.stat().st_size == 0
            if schema is None:
                if empty:
                    raise self._error(f"table '{table}' is empty and has no schema sidecar", True)
                return _normalize(_flatten(pj.read_json(str(path))))
            if empty:
                return schema.empty_table()
            options = pj.ParseOptions(
                explicit_schema=_parse_schema(schema), unexpected_field_behavior="ignore"
            )
            flat = _flatten(pj.read_json(str(path), parse_options=options))
            return pa.Table.from_arrays(
                [flat[n].cast(f.type) for n, f in zip(schema.names, schema, strict=True)],
                schema=schema,
            )

    def write(self, table: str, data: pa.Table, *, mode: WriteMode = "replace") -> int:
        """Write (or append to) the collection atomically; return the documents written."""
        if mode not in ("replace", "append"):
            raise RequestError(f"unknown write mode '{mode}' (use 'replace' or 'append')")
        path = self._path(table)
        data = _normalize(data)
        self._check_writable(data)
        append = mode == "append" and path.is_file()
        if append:
            data = _conform(data, self.schema(table), self._error)
        side = self._path(table, ".schema.json")
        text = _sidecar_text(data.schema)
        with self._errors():
            self.config.root.mkdir(parents=True, exist_ok=True)

            def write_lines(tmp: Path) -> None:
                if append:
                    shutil.copyfile(path, tmp)
                with tmp.open("a+b") as out:
                    if out.tell():  # a hand-written file may lack the final newline
                        out.seek(-1, os.SEEK_END)
                        if out.read(1) != b"\n":
                            out.write(b"\n")
                    out.writelines(line.encode("utf-8") for line in _encode_lines(data))

            _atomic_write(path, write_lines)
            if not side.is_file() or side.read_text("utf-8") != text:
                _atomic_write(side, lambda tmp: tmp.write_text(text, "utf-8"))
        return int(data.num_rows)

    def _check_writable(self, data: pa.Table) -> None:
        names = data.column_names
        if not names:
            raise self._error("cannot write a table without columns", True)
        if len(set(names)) != len(names):
            raise self._error(f"duplicate column names in {names}", True)
        bad = [f"{f.name} ({f.type})" for f in data.schema if f.type not in _STORABLE]
        if bad:
            raise self._error(f"column type(s) JSON documents cannot store: {', '.join(bad)}", True)
        try:
            _parse_schema(data.schema)
        except ValueError as exc:
            raise self._error(str(exc), True) from exc
        for name, column in zip(names, data.columns, strict=True):
            if pa.types.is_floating(column.type) and pc.any(pc.is_inf(column)).as_py():
                raise self._error(f"column '{name}' holds infinity, which JSON cannot store", True)

    def schema(self, table: str) -> pa.Schema:
        self._existing(table)
        declared = self._sidecar_schema(table)
        if declared is not None:
            return declared
        inferred: pa.Schema = self._load(table).schema
        return inferred

    def read(self, request: ReadRequest) -> pa.Table:
        """Parse the whole file, then apply the request with Arrow compute (no pushdown possible)."""
        table = self._load(request.table)
        names = _resolve(table.schema, request, self._error)
        with self._errors():
            expression = _filter(table.schema, request)
            if expression is not None:
                table = table.filter(expression)
            result: pa.Table = table.select(names)
            return result

    def ping(self) -> None:
        """The root is a readable directory, or can be created."""
        root = self.config.root
        if root.exists():
            if not root.is_dir() or not os.access(root, os.R_OK | os.X_OK):
                raise self._error(f"{root} is not a readable directory")
            return
        parent = next(p for p in root.parents if p.exists())
        if not parent.is_dir() or not os.access(parent, os.W_OK):
            raise self._error(f"cannot create {root}: {parent} is not a writable directory")


def _atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Write via a temp file in the same directory, fsync, then rename over ``path``."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        # mkstemp makes the file private (0600); keep the table readable like any other file.
        tmp.chmod(path.stat().st_mode & 0o777 if path.exists() else 0o644)
        write(tmp)
        with tmp.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            tmp.unlink()
        raise
