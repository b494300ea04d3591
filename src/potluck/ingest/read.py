"""Reading a user's file (CSV, Parquet, JSON lines) into Arrow, without guessing types:
CSV columns come in as text and :mod:`.conform` converts them by the declared schema,
so ``"N/A"`` in a number column or a leading zero in an id is never mangled."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa

from potluck.errors import RequestError

__all__ = ["FORMATS", "read_file"]

FORMATS = (".csv", ".parquet", ".jsonl", ".ndjson", ".json")
MAX_BYTES = 2 * 1024**3


def _jsonl(path: Path) -> pa.Table:
    rows = []
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise RequestError(f"{path.name}: line {number} is not JSON: {exc.msg}") from None
            if not isinstance(row, dict):
                raise RequestError(f"{path.name}: line {number} is not a JSON object")
            rows.append(row)
    names = list(dict.fromkeys(k for row in rows for k in row))
    # Every value as its JSON text or string: conform decides the types.
    columns = {
        n: pa.array(
            [
                None if r.get(n) is None else (r[n] if isinstance(r[n], str) else json.dumps(r[n]))
                for r in rows
            ],
            pa.string(),
        )
        for n in names
    }
    return pa.table(columns) if columns else pa.table({})


def read_file(path: Path) -> pa.Table:
    """The file's rows; a missing, empty, huge or unreadable file is a RequestError."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise RequestError(f"{path.name}: unknown format (give one of {', '.join(FORMATS)})")
    if path.is_dir():
        raise RequestError(f"{path.name} is a directory, not a file: give one file to load")
    if not path.is_file():
        raise RequestError(f"{path}: no such file")
    size = path.stat().st_size
    if size == 0:
        raise RequestError(f"{path.name} is empty")
    if size > MAX_BYTES:
        raise RequestError(f"{path.name} is {size / 1024**3:.1f} GiB; split it (max 2 GiB a load)")
    try:
        if suffix == ".csv":
            with pacsv.open_csv(path) as probe:  # the header only
                names = probe.schema.names
            types = {n: pa.string() for n in names}
            return pacsv.read_csv(
                path,
                convert_options=pacsv.ConvertOptions(
                    column_types=types, strings_can_be_null=False, quoted_strings_can_be_null=False
                ),
            )
        if suffix == ".parquet":
            return pq.read_table(path)
        return _jsonl(path)
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError) as exc:
        detail = " ".join(str(exc).split())[:300]
        raise RequestError(f"{path.name} is not readable as {suffix[1:]}: {detail}") from None
