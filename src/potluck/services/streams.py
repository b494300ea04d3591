"""Stream producers and inspection, and push with Feast's three modes, for the CLI and API."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from potluck.errors import NotFoundError, RequestError

if TYPE_CHECKING:
    from potluck.features.repo import FeatureRepo
    from potluck.streams.log import EventLog

__all__ = [
    "check_columns",
    "check_source",
    "dead_letters",
    "event_log",
    "payload",
    "release_states",
    "send_events",
    "stream_status",
]

_LOGS: weakref.WeakKeyDictionary[Any, EventLog] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()
MAX_EVENTS_PER_CALL = 10_000
EVENTS_PER_ENTRY = 1_000  # a batched entry (``potluck stream send``): ~150 KB of JSON


def event_log(repo: FeatureRepo) -> EventLog:
    """The repo's event log, opened once (the API's requests share it)."""
    from potluck.streams import open_log

    with _LOCK:
        log = _LOGS.get(repo)
        if log is None:
            log = _LOGS[repo] = open_log(repo)
        return log


def check_source(repo: FeatureRepo, source: str) -> None:
    from potluck.deployment import active_deployment

    sources = active_deployment(repo.settings).sources
    if source not in sources:
        raise NotFoundError(f"unknown source '{source}' (known: {', '.join(sources)})")


def send_events(
    repo: FeatureRepo,
    source: str,
    events: Sequence[Mapping[str, Any]],
    event_ids: Sequence[str | None] | None = None,
) -> list[str]:
    """Append events (column -> value) to ``source``'s stream; returns their entry ids.
    Schema checks happen in the processor (bad events are dead-lettered there); what the
    processor could never accept -- an event over its size limit, an empty or oversized
    producer id -- is refused here, and then nothing of the call is appended."""
    check_source(repo, source)
    if len(events) > MAX_EVENTS_PER_CALL:
        raise RequestError(f"at most {MAX_EVENTS_PER_CALL} events per call, got {len(events)}")
    return event_log(repo).append(source, payload(events, event_ids))


def payload(
    events: Sequence[Mapping[str, Any]], event_ids: Sequence[str | None] | None, first: int = 0
) -> list[tuple[bytes, str | None]]:
    """Events encoded for the log, each checked against the limits (``first``: the
    number of the first event in messages)."""
    from potluck.streams import encode_event
    from potluck.streams.events import MAX_EVENT_BYTES, MAX_EVENT_ID_CHARS

    if not events:
        raise RequestError("no events to send")
    ids = list(event_ids) if event_ids is not None else [None] * len(events)
    if len(ids) != len(events):
        raise RequestError(f"{len(ids)} event ids for {len(events)} events")
    for n, event_id in enumerate(ids, first):
        if event_id is not None and not 0 < len(event_id) <= MAX_EVENT_ID_CHARS:
            raise RequestError(f"event id {n} must have 1 to {MAX_EVENT_ID_CHARS} characters")
        if event_id is not None and not event_id.isprintable():
            # a batched entry keeps its ids one per line: a newline would shift them all
            raise RequestError(f"event id {n} holds a control character (newline, tab, ...)")
    try:
        payload = [(encode_event(e), i) for e, i in zip(events, ids, strict=True)]
    except TypeError as exc:
        raise RequestError(str(exc)) from None
    for n, (data, _) in enumerate(payload, first):
        if len(data) > MAX_EVENT_BYTES:
            raise RequestError(f"event {n} is {len(data)} bytes encoded; at most {MAX_EVENT_BYTES}")
    return payload


def check_columns(repo: FeatureRepo, source: str, columns: Sequence[str]) -> None:
    """A file whose columns cannot fit the source would dead-letter every row: refused
    whole instead, naming what is missing and what is not the source's."""
    from potluck.deployment import active_deployment

    deployment = active_deployment(repo.settings)
    spec = deployment.sources[source]
    keys = [k for k in deployment.entity(spec.entity).key_names if k in spec.schema.names]
    needed = [*keys, spec.timestamp_field]  # (a key the source names otherwise: its view maps it)
    missing = [c for c in needed if c not in columns]
    foreign = [c for c in columns if c not in spec.schema.names]
    if not missing and not foreign:
        return
    problems = []
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    if foreign:
        problems.append(f"not in the source: {', '.join(map(repr, foreign))}")
    hint = ""
    if len(columns) == 1 and any(sep in columns[0] for sep in ";\t|"):
        hint = " (one column whose name holds a separator: CSV files are read comma-separated)"
    raise RequestError(
        f"the file's columns do not fit source '{source}': {'; '.join(problems)}{hint}"
    )


def stream_status(repo: FeatureRepo, sources: Sequence[str] | None = None) -> list[dict[str, Any]]:
    from potluck.deployment import active_deployment

    names = list(sources) if sources else list(active_deployment(repo.settings).sources)
    log = event_log(repo)
    out = []
    for source in names:
        check_source(repo, source)
        owns = _owned_views(repo, source)
        for group in log.status(source):
            row = {"source": source, "length": log.length(source), **asdict(group)}
            out.append({**row, "owns": owns})
    return out


def _owned_views(repo: FeatureRepo, source: str) -> list[str]:
    """The windowed views over ``source`` whose states its processor owns."""
    from potluck.online.stores import store_kind
    from potluck.online.window_states import open_state_store
    from potluck.streams.offline import owned_views
    from potluck.streams.processor import stream_plans

    if store_kind(repo.config) is None:
        return []
    (plan,) = stream_plans(repo, [source])
    store = open_state_store(repo.config)
    try:
        return sorted(owned_views(store, plan))
    finally:
        store.close()


def dead_letters(repo: FeatureRepo, source: str, count: int = 20) -> list[dict[str, Any]]:
    check_source(repo, source)
    return event_log(repo).dead_letters(source, count)


def release_states(repo: FeatureRepo, source: str) -> list[str]:
    """Hand the window states of ``source``'s views back to batch materialization (the
    outbox flushed first); stop its processor before: a running one takes them back
    within seconds (``processor.OWNER_CHECK_S``), as one does at start."""
    from potluck.streams.offline import release
    from potluck.streams.processor import stream_plans

    check_source(repo, source)
    (plan,) = stream_plans(repo, [source])
    return release(event_log(repo), repo.settings, repo.config, plan)
