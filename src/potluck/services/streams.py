"""Stream producers and inspection, and push with Feast's three modes, for the CLI and API."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from potluck.errors import NotFoundError, RequestError

if TYPE_CHECKING:
    import pyarrow as pa

    from potluck.features.repo import FeatureRepo
    from potluck.streams.log import EventLog

__all__ = ["dead_letters", "send_events", "send_table", "stream_status"]

_LOGS: weakref.WeakKeyDictionary[Any, EventLog] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()
MAX_EVENTS_PER_CALL = 10_000
EVENTS_PER_ENTRY = 1_000  # a batched entry (``potluck stream send``): ~150 KB of JSON


def _log(repo: FeatureRepo) -> EventLog:
    from potluck.streams import open_log

    with _LOCK:
        log = _LOGS.get(repo)
        if log is None:
            log = _LOGS[repo] = open_log(repo)
        return log


def _check_source(repo: FeatureRepo, source: str) -> None:
    from potluck.deployment import active_deployment

    sources = active_deployment(repo.settings).sources
    if source not in sources:
        raise NotFoundError(f"unknown source '{source}' (known: {', '.join(sources)})")


def send_events(
    repo: FeatureRepo,
    source: str,
    events: Sequence[Mapping[str, Any]],
    event_ids: Sequence[str | None] | None = None,
    batched: bool = False,
) -> list[str]:
    """Append events (column -> value) to ``source``'s stream; returns their entry ids
    (``batched``: up to ``EVENTS_PER_ENTRY`` events per entry, one id per entry).
    Schema checks happen in the processor (bad events are dead-lettered there)."""
    from potluck.streams import encode_event

    _check_source(repo, source)
    if not events:
        raise RequestError("no events to send")
    if len(events) > MAX_EVENTS_PER_CALL:
        raise RequestError(f"at most {MAX_EVENTS_PER_CALL} events per call, got {len(events)}")
    ids = list(event_ids) if event_ids is not None else [None] * len(events)
    if len(ids) != len(events):
        raise RequestError(f"{len(ids)} event ids for {len(events)} events")
    try:
        payload = [(encode_event(e), i) for e, i in zip(events, ids, strict=True)]
    except TypeError as exc:
        raise RequestError(str(exc)) from None
    if batched:
        chunks = [
            ([d for d, _ in payload[lo : lo + EVENTS_PER_ENTRY]], ids[lo : lo + EVENTS_PER_ENTRY])
            for lo in range(0, len(payload), EVENTS_PER_ENTRY)
        ]
        return _log(repo).append_batched(source, chunks)
    return _log(repo).append(source, payload)


def send_table(repo: FeatureRepo, source: str, table: pa.Table, id_column: str | None) -> int:
    """Append a file's rows as events, in batched entries (see ``potluck.streams.events``);
    ``id_column`` holds producer ids."""
    sent = 0
    for lo in range(0, table.num_rows, MAX_EVENTS_PER_CALL):
        part = table.slice(lo, MAX_EVENTS_PER_CALL)
        ids = None
        if id_column is not None:
            ids = [None if v is None else str(v) for v in part[id_column].to_pylist()]
            part = part.drop_columns([id_column])
        send_events(repo, source, part.to_pylist(), ids, batched=True)
        sent += part.num_rows
    return sent


def stream_status(repo: FeatureRepo, sources: Sequence[str] | None = None) -> list[dict[str, Any]]:
    from potluck.deployment import active_deployment

    names = list(sources) if sources else list(active_deployment(repo.settings).sources)
    log = _log(repo)
    out = []
    for source in names:
        _check_source(repo, source)
        for group in log.status(source):
            out.append({"source": source, "length": log.length(source), **asdict(group)})
    return out


def dead_letters(repo: FeatureRepo, source: str, count: int = 20) -> list[dict[str, Any]]:
    _check_source(repo, source)
    return _log(repo).dead_letters(source, count)
