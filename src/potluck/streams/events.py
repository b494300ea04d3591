"""The stream format and the validation of events against a source's declared schema.

One event is one log entry with these fields (Redis stream entry fields, or the
columns of the local log; any Redis client can produce them)::

    data      required  a JSON object: the source's columns by name; times as ISO 8601
                        text ("2026-03-01T12:00:00Z"; naive = UTC), numbers as numbers
    event_id  optional  the producer's id: a second event with the same id (a retry)
                        is applied once

For example ``XADD potluck:stream:{project}:{source} * data '{"card_id":"c1",
"ts":"2026-03-01T12:00:00Z","amount":12.5,"country":"FR","high_risk":0,"is_fraud":0}'
event_id tx-1``.

A batched entry carries many events instead (what ``potluck stream send`` writes: one
stream entry costs the producer, Redis and the processor about as much as the JSON of
a hundred events, so batching is where throughput comes from)::

    events     required  the events' JSON objects, one per line (newline-delimited JSON)
    event_ids  optional  their producer ids, one per line (an empty line: none)

Each event of a batched entry is validated, counted and dead-lettered on its own (its
dead letter's entry is ``{entry id}/{line number from 0}``); the entry is acknowledged
when all of its events are committed, in one transaction. An entry of more than
:data:`MAX_ENTRY_EVENTS` events or :data:`MAX_ENTRY_BYTES` bytes is dead-lettered whole
(``oversized``): what one entry may cost the processor is bounded whoever wrote it.

A batch of entries is validated at once: the payloads joined by newlines and parsed by
Arrow's JSON reader in one call (:mod:`potluck.streams._ndjson`), then
``potluck.ingest.conform`` (the same conversions and refusals as ``potluck load``).
When any of that fails, each event is parsed (``json.loads``) and checked alone, so one
bad event never costs the good ones their place and the dead letter names the reason:
``oversized``, ``malformed`` (not a JSON object), ``schema`` (missing/extra/unreadable
columns, empty key or time).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import pyarrow as pa

from potluck.ingest.conform import ConformError
from potluck.streams._conform import conform_table

__all__ = [
    "MAX_ENTRY_BYTES",
    "MAX_ENTRY_EVENTS",
    "MAX_EVENT_BYTES",
    "MAX_EVENT_ID_CHARS",
    "DeadLetter",
    "Entry",
    "Validated",
    "encode_event",
    "entry_batches",
    "producer_id",
    "refused_row",
    "validate",
]

MAX_EVENT_BYTES = 64 * 1024
MAX_EVENT_ID_CHARS = 256  # a producer id becomes a dedup key: bounded
MAX_ENTRY_EVENTS = 10_000
MAX_ENTRY_BYTES = 8 * 1024 * 1024  # the API's body limit
# A row standing for an entry refused whole (Spark's source yields rows, not dead
# letters): validation turns it back into its dead letter. Not JSON, so a producer
# writing it gets a dead letter as any malformed event does.
_REFUSED = b"\x00potluck-refused\x00"


class Entry(NamedTuple):
    """One log entry: its id in the log and its raw fields. ``batched``: ``data`` holds
    many events, one JSON object per line, and ``event_id`` their ids, one per line.
    (A named tuple: thousands are made per batch, a frozen dataclass costs 3x more.)"""

    id: str
    data: bytes
    event_id: str | None = None
    batched: bool = False


@dataclass(frozen=True)
class DeadLetter:
    id: str
    reason: str
    detail: str
    data: bytes

    def to_fields(self) -> dict[bytes, bytes]:
        return {
            b"entry": self.id.encode(),
            b"reason": self.reason.encode(),
            b"detail": self.detail[:2000].encode(),
            b"data": self.data[:MAX_EVENT_BYTES],
        }


@dataclass
class Validated:
    """Good events (the source's schema, in entry order) and the dead letters."""

    rows: pa.Table
    ids: list[str]  # entry id of each good row
    event_ids: list[str | None]
    dead: list[DeadLetter] = field(default_factory=list)


def encode_event(row: Mapping[str, Any]) -> bytes:
    """A row as the ``data`` field: JSON, times as ISO 8601 text."""

    def default(value: Any) -> Any:
        if hasattr(value, "isoformat"):
            return value.isoformat()
        raise TypeError(f"cannot encode {type(value).__name__} as JSON")

    return json.dumps(dict(row), default=default, separators=(",", ":")).encode()


def encode_batch(events: Sequence[bytes], event_ids: Sequence[str | None]) -> dict[bytes, bytes]:
    """The fields of one batched entry holding ``events`` (each one ``data`` payload)."""
    fields = {b"events": b"\n".join(events)}
    if any(e is not None for e in event_ids):
        fields[b"event_ids"] = "\n".join(e or "" for e in event_ids).encode()
    return fields


def producer_id(raw: bytes | str | None) -> str | None:
    """A producer's ``event_id`` (or ``event_ids``) field as text; empty is none. Bytes
    that are not UTF-8 stay recognisable (surrogate escapes), so the event is
    dead-lettered as malformed instead of failing the read."""
    if isinstance(raw, bytes):
        raw = raw.decode(errors="surrogateescape")
    return raw or None


def _id_fits(event_id: str | None) -> bool:
    return event_id is None or (len(event_id) <= MAX_EVENT_ID_CHARS and event_id.isprintable())


def entry_batches(
    payload: Sequence[tuple[bytes, str | None]], events_per_entry: int
) -> list[tuple[list[bytes], list[str | None]]]:
    """``(data, event id)`` pairs cut into batched entries of at most ``events_per_entry``
    events and :data:`MAX_ENTRY_BYTES` bytes (each event at most MAX_EVENT_BYTES)."""
    out: list[tuple[list[bytes], list[str | None]]] = []
    size = 0
    for data, eid in payload:
        if not out or len(out[-1][0]) >= events_per_entry or size + len(data) >= MAX_ENTRY_BYTES:
            out.append(([], []))
            size = 0
        out[-1][0].append(data)
        out[-1][1].append(eid)
        size += len(data) + 1
    return out


def refused_row(dead: DeadLetter) -> bytes:
    """``dead`` as an event payload that :func:`validate` turns back into it."""
    head = f"{dead.reason}\x00{dead.detail}\x00".encode()
    return _REFUSED + head + dead.data


def _refused(entry: Entry) -> DeadLetter:
    parts = entry.data[len(_REFUSED) :].split(b"\x00", 2)
    if len(parts) != 3:  # a producer wrote the marker itself: malformed, as any non-JSON
        return DeadLetter(entry.id, "malformed", "not JSON", entry.data[:1024])
    reason, detail, data = (p[:n] for p, n in zip(parts, (64, 2000, 1024), strict=True))
    return DeadLetter(
        entry.id, reason.decode(errors="replace"), detail.decode(errors="replace"), data
    )


def _expand(entry: Entry, events: list[Entry], dead: list[DeadLetter]) -> None:
    """The events of a batched entry, each an entry ``{id}/{line}`` of its own."""
    if len(entry.data) > MAX_ENTRY_BYTES:
        detail = f"a batched entry of {len(entry.data)} bytes > {MAX_ENTRY_BYTES}"
        dead.append(DeadLetter(entry.id, "oversized", detail, entry.data[:1024]))
        return
    lines = entry.data.split(b"\n")
    if lines and not lines[-1].strip():
        lines.pop()  # a final newline ends the last line
    if len(lines) > MAX_ENTRY_EVENTS:
        detail = f"a batched entry of {len(lines)} events > {MAX_ENTRY_EVENTS}"
        dead.append(DeadLetter(entry.id, "oversized", detail, entry.data[:1024]))
        return
    ids: list[str | None] = [None] * len(lines)
    if entry.event_id is not None:
        given = entry.event_id.split("\n")
        if given and not given[-1] and len(given) == len(lines) + 1:
            given.pop()
        if len(given) != len(lines):
            detail = f"{len(given)} event ids for {len(lines)} events"
            dead.append(DeadLetter(entry.id, "malformed", detail, entry.data[:1024]))
            return
        ids = [e or None for e in given]
    for i, (line, eid) in enumerate(zip(lines, ids, strict=True)):
        if line.startswith(_REFUSED):  # not JSON: as any malformed line (both engines)
            dead.append(DeadLetter(f"{entry.id}/{i}", "malformed", "not JSON", line[:1024]))
            continue
        events.append(Entry(f"{entry.id}/{i}", line, eid))


def _conform(rows: Sequence[Mapping[str, Any]], schema: pa.Schema, required: Sequence[str]) -> Any:
    return conform_table(pa.Table.from_pylist(list(rows)), schema, required)


def validate(
    entries: Sequence[Entry],
    schema: pa.Schema,
    required: Sequence[str],
    max_bytes: int = MAX_EVENT_BYTES,
) -> Validated:
    """Split ``entries`` into rows of ``schema`` and dead letters (with the reason)."""
    from potluck.streams._ndjson import read_batch

    dead: list[DeadLetter] = []
    events: list[Entry] = []  # one per event: batched entries expanded
    if any(e.batched or e.data[:1] == b"\x00" for e in entries):
        for entry in entries:
            if entry.batched:
                _expand(entry, events, dead)
            elif entry.data.startswith(_REFUSED):
                dead.append(_refused(entry))
            else:
                events.append(entry)
    else:  # the usual batch of plain events: no per-entry branching
        events = list(entries)
    fit = [
        e
        for e in events
        if len(e.data) <= max_bytes and (e.event_id is None or _id_fits(e.event_id))
    ]
    if len(fit) < len(events):
        for entry in events:
            if len(entry.data) > max_bytes:
                detail = f"{len(entry.data)} bytes > {max_bytes}"
                dead.append(DeadLetter(entry.id, "oversized", detail, entry.data[:1024]))
            elif not _id_fits(entry.event_id):
                # any Redis client may write ids: each becomes a dedup key, so bounded
                detail = (
                    f"event_id of {len(entry.event_id or '')} characters or with control characters"
                )
                dead.append(DeadLetter(entry.id, "malformed", detail, entry.data[:1024]))
    fast = read_batch([e.data for e in fit], schema, required)
    if fast is not None:
        return Validated(fast, [e.id for e in fit], [e.event_id for e in fit], dead)
    parsed: list[tuple[Entry, dict[str, Any]]] = []
    for entry in fit:
        try:
            value = json.loads(entry.data)
        except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
            detail = f"not JSON: {type(exc).__name__}: {str(exc)[:200]}"
            dead.append(DeadLetter(entry.id, "malformed", detail, entry.data))
            continue
        if not isinstance(value, dict):
            detail = f"a JSON {type(value).__name__}, not an object"
            dead.append(DeadLetter(entry.id, "malformed", detail, entry.data))
            continue
        parsed.append((entry, value))
    good: list[tuple[Entry, pa.Table]] = []
    try:
        table = _conform([v for _, v in parsed], schema, required) if parsed else None
    except Exception:  # whatever it is, found below event by event
        table = None
        for entry, value in parsed:  # find the bad ones, one by one
            try:
                good.append((entry, _conform([value], schema, required)))
            except ConformError as exc:
                dead.append(DeadLetter(entry.id, "schema", str(exc), entry.data))
            except Exception as exc:  # a bad event never stops the processor (Arrow's
                # errors, or Python's: an integer beyond int64 is an OverflowError)
                detail = f"{type(exc).__name__}: {str(exc)[:500]}"
                dead.append(DeadLetter(entry.id, "schema", detail, entry.data))
    if table is not None:
        kept = [e for e, _ in parsed]
    else:
        kept = [e for e, _ in good]
        table = pa.concat_tables([t for _, t in good]) if good else schema.empty_table()
    return Validated(
        rows=table,
        ids=[e.id for e in kept],
        event_ids=[e.event_id for e in kept],
        dead=dead,
    )
