"""``potluck stream send``: a file's rows appended to a source's stream, in bounded memory.

Two passes, so that a bad row appends nothing and a large file is never held whole:

1. The file is read batch by batch (Parquet row groups, Arrow's streaming CSV and
   JSON-lines readers); each batch's rows are checked against the source and the
   producer limits and encoded as batched entries into a spool file (a temporary
   file, deleted on close).
2. Only when every row passed are the spooled entries appended to the log.

Memory is one read batch plus one group of entries, whatever the file's size.
"""

from __future__ import annotations

import struct
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

import pyarrow as pa

from potluck.errors import RequestError

if TYPE_CHECKING:
    from potluck.features.repo import FeatureRepo

__all__ = ["read_batches", "send_batches", "send_file", "send_table"]

READ_ROWS = 10_000  # rows per read batch (Parquet), and per encoded chunk
APPEND_ENTRIES = 20  # batched entries per append call (one pipeline round trip)
_HEAD = struct.Struct("<II")  # bytes of the events, bytes of the ids + 1 (0: no ids)

Progress = Callable[[str, int, int | None], None]  # phase, rows done, rows in all (if known)


def read_batches(path: Path) -> tuple[list[str], Iterator[pa.RecordBatch], int | None]:
    """The file's column names, its record batches and its row count when the format
    says it up front (Parquet); by extension as ``potluck push`` reads files."""
    if not path.is_file():
        raise RequestError(f"no such file: {path}")
    try:
        if path.suffix == ".csv":
            import pyarrow.csv as pacsv

            reader = pacsv.open_csv(path)
            return reader.schema.names, _guarded(path, reader), None
        if path.suffix in {".jsonl", ".json", ".ndjson"}:
            import pyarrow.json as pajson

            json_reader = pajson.open_json(path)
            return json_reader.schema.names, _guarded(path, json_reader), None
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(path)
        batches = parquet.iter_batches(batch_size=READ_ROWS)
        total = parquet.metadata.num_rows
        return parquet.schema_arrow.names, _guarded(path, batches), total
    except (pa.ArrowException, OSError) as exc:
        raise RequestError(f"cannot read rows from {path}: {exc}") from None


def _guarded(path: Path, batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """``batches``, a reading error mid-file named as the first one is."""
    try:
        yield from batches
    except (pa.ArrowException, OSError) as exc:
        raise RequestError(f"cannot read rows from {path}: {exc}") from None


def send_file(
    repo: FeatureRepo,
    source: str,
    path: Path,
    id_column: str | None,
    on_progress: Progress | None = None,
) -> int:
    """Append ``path``'s rows to ``source``'s stream as events; returns how many."""
    from potluck.services.streams import check_source

    check_source(repo, source)  # before reading a byte of the file
    columns, batches, total = read_batches(path)
    return send_batches(repo, source, columns, batches, id_column, total, on_progress)


def send_table(repo: FeatureRepo, source: str, table: pa.Table, id_column: str | None) -> int:
    """Append a table's rows as events: every row is checked before the first entry is
    appended."""
    batches = table.to_batches(max_chunksize=READ_ROWS)
    return send_batches(repo, source, table.column_names, batches, id_column, table.num_rows)


def send_batches(
    repo: FeatureRepo,
    source: str,
    columns: list[str],
    batches: Iterable[pa.RecordBatch],
    id_column: str | None,
    total: int | None = None,
    on_progress: Progress | None = None,
) -> int:
    """Check and spool every batch, then append (nothing is appended on any error)."""
    from potluck.services.streams import EVENTS_PER_ENTRY, check_columns, check_source, event_log

    check_source(repo, source)
    fields = [c for c in columns if c != id_column]
    if id_column is not None and id_column not in columns:
        raise RequestError(f"no column '{id_column}' in the file (columns: {', '.join(fields)})")
    check_columns(repo, source, fields)
    report = on_progress or (lambda _phase, _done, _total: None)
    with tempfile.TemporaryFile(prefix="potluck-send-") as spool:
        rows = _spool(
            spool, batches, id_column, EVENTS_PER_ENTRY, lambda n: report("checked", n, total)
        )
        if rows == 0:
            raise RequestError("no events to send")
        spool.seek(0)
        log, sent = event_log(repo), 0
        for group in _entries(spool):
            log.append_batched(source, group)
            sent += sum(len(events) for events, _ in group)
            report("sent", sent, rows)
    return rows


def _spool(
    spool: IO[bytes],
    batches: Iterable[pa.RecordBatch],
    id_column: str | None,
    events_per_entry: int,
    checked: Callable[[int], None],
) -> int:
    from potluck.services.streams import payload
    from potluck.streams.events import entry_batches

    rows = 0
    for batch in batches:
        for lo in range(0, batch.num_rows, READ_ROWS):
            part = batch.slice(lo, READ_ROWS)
            ids = None
            if id_column is not None:
                ids = [None if v is None else str(v) for v in part.column(id_column).to_pylist()]
                part = part.drop_columns([id_column])
            if part.num_rows == 0:
                continue
            encoded = payload(part.to_pylist(), ids, first=rows)
            for events, eids in entry_batches(encoded, events_per_entry):
                blob = b"\n".join(events)
                id_blob = (
                    b""
                    if all(e is None for e in eids)
                    else "\n".join(e or "" for e in eids).encode()
                )
                spool.write(_HEAD.pack(len(blob), len(id_blob) + 1 if id_blob else 0))
                spool.write(blob)
                spool.write(id_blob)
            rows += part.num_rows
            checked(rows)
    return rows


def _entries(spool: IO[bytes]) -> Iterator[list[tuple[list[bytes], list[str | None]]]]:
    """The spooled entries back, in groups of :data:`APPEND_ENTRIES`."""
    group: list[tuple[list[bytes], list[str | None]]] = []
    while head := spool.read(_HEAD.size):
        size, id_size = _HEAD.unpack(head)
        events = spool.read(size).split(b"\n")
        eids: list[str | None] = [None] * len(events)
        if id_size:
            eids = [e or None for e in spool.read(id_size - 1).decode().split("\n")]
        group.append((events, eids))
        if len(group) == APPEND_ENTRIES:
            yield group
            group = []
    if group:
        yield group
