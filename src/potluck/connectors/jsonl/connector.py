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

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
from pydantic import BaseModel

from potluck.connectors._arrow import (
    TS,
    conform,
    driver_errors,
    filter_expression,
    normalize,
    resolve,
    schema_from_ipc,
    schema_to_ipc,
)
from potluck.connectors._files import atomic_write, check_root, table_file
from potluck.connectors.base import Connector, ReadRequest, WriteMode
from potluck.connectors.jsonl._encode import encode_lines as _encode_lines
from potluck.connectors.jsonl.config import JsonlConfig

__all__ = ["JsonlConnector"]

_STORABLE = [pa.null(), pa.bool_(), pa.float32(), pa.float64(), pa.string(), pa.large_string()]
_STORABLE += [pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.date32(), TS]
_STORABLE += [pa.uint8(), pa.uint16(), pa.uint32(), pa.uint64()]
# Type names accepted in a sidecar's "columns" list (Arrow's own spelling, plus aliases
# for hand-written sidecars).
_TYPES: dict[str, pa.DataType] = {str(t): t for t in _STORABLE}
_TYPES |= {"timestamp": TS, "date": pa.date32(), "float64": pa.float64(), "boolean": pa.bool_()}


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


def _sidecar_text(schema: pa.Schema) -> str:
    # Readable (and hand-writable) column list; the IPC bytes, when present, are exact.
    columns = [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in schema]
    return json.dumps({"columns": columns, "arrow_ipc": schema_to_ipc(schema)}, indent=2) + "\n"


class JsonlConnector(Connector):
    """Arrow tables in and out of a directory of JSON-lines document files."""

    kind: ClassVar[str] = "jsonl"
    config_model: ClassVar[type[BaseModel]] = JsonlConfig
    config: JsonlConfig

    def __init__(self, source: str, config: JsonlConfig) -> None:
        super().__init__(source, config)

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Driver errors leave as SourceError naming this source."""
        with driver_errors(self._error, OSError, ValueError, pa.ArrowException):
            yield

    def _path(self, table: str, suffix: str = ".jsonl") -> Path:
        """The table's file; names that could leave the root directory are refused."""
        return table_file(self.config.root, table, suffix, self._error)

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
                return schema_from_ipc(doc["arrow_ipc"])
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
                return self._inferred(table, path)
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

    def _inferred(self, table: str, path: Path) -> pa.Table:
        """A file without a sidecar, typed by Arrow's inference (ISO times -> UTC timestamps);
        documents that disagree on a column's type are refused with how to fix it."""
        try:
            return normalize(_flatten(pj.read_json(str(path))))
        except pa.ArrowInvalid as exc:
            side = self._path(table, ".schema.json").name
            detail = " ".join(str(exc).split()).removeprefix("JSON parse error: ")
            raise self._error(
                f"table '{table}' has no schema sidecar and its documents do not agree on "
                f"types ({detail}): write {side} next to it, e.g. "
                '{"columns": [{"name": "id", "type": "string"}, {"name": "n", "type": "double"}]}'
                ", or bring the file in with `potluck load SOURCE FILE`, which converts by the "
                "deployment's schema",
                True,
            ) from None

    def _check_name(self, table: str) -> None:
        self._path(table)  # refuses names that could leave the root directory

    def _write(self, table: str, data: pa.Table, mode: WriteMode) -> int:
        """Write (or append to) the collection atomically; return the documents written."""
        path = self._path(table)
        append = mode == "append" and path.is_file()
        if append:
            data = conform(data, self.schema(table), self._error)
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
                    out.writelines(_encode_lines(data))

            atomic_write(path, write_lines)
            if not side.is_file() or side.read_text("utf-8") != text:
                atomic_write(side, lambda tmp: tmp.write_text(text, "utf-8"))
        return int(data.num_rows)

    def _check_writable(self, data: pa.Table) -> None:
        super()._check_writable(data)  # some columns, each named once
        names = data.column_names
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
        names = resolve(table.schema, request, self._error)
        with self._errors():
            expression = filter_expression(table.schema, request)
            if expression is not None:
                table = table.filter(expression)
            result: pa.Table = table.select(names)
            return result

    def scan(self, request: ReadRequest) -> Iterator[pa.RecordBatch] | None:
        """Parsed whole, as for every read, then handed out in batches: a caller that
        would read it once per set of keys parses it once."""
        table = self.read(request)
        if not table.num_columns:
            return None
        return iter(table.to_batches())

    def ping(self) -> None:
        """The root is a readable directory, or can be created."""
        check_root(self.config.root, self._error)
