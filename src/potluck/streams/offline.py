"""The offline side of the stream: the outbox flushed into the source's table, and
window states re-anchored from it.

**Flush, exactly once.** A commit puts its applied rows in the log's outbox (same
transaction as the online writes). The flush (one at a time: the ``flush`` lock)
appends the outbox to the source's table through its connector, in one append
(atomic in every connector: a file replaced, one transaction, one object). Before
appending it records an *intent* -- the batches and the table's row count before --
and after it deletes the batches and the intent. After a crash the intent tells
what happened: the table holds ``before + rows`` rows (appended: just forget the
batches) or ``before`` (not appended: append again). Any other count means someone
else wrote the table meanwhile; the flush then stops and says so rather than guess.

**Re-anchoring.** A window state is exact for reads in ``[A, A + h]``. Every ``h / 2``
the processor takes the source's ``lock`` (commits wait), flushes, rebuilds every
key's state at ``A = now`` from the offline table's events of ``(A - longest, ...)``
(``windows.online.build_states``, the batch materialization's own kernel), and
installs them with the new anchor in one transaction. A key with no state after that
had no event in range, so a commit starts it from ``empty_state(A)``. The install also
records the source as the states' owner (:mod:`potluck.online.window_states`): batch
materialization leaves them alone until :func:`release`; a processor that finds a view
it does not own re-anchors first.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import pyarrow as pa

from potluck.connectors import ReadRequest
from potluck.errors import SourceError
from potluck.streams.apply import SourcePlan, to_datetime

if TYPE_CHECKING:
    from feast.repo_config import RepoConfig

    from potluck.connectors import Connector
    from potluck.online.window_states import WindowStateStore
    from potluck.settings import Settings
    from potluck.streams.log import EventLog

__all__ = ["flush", "owned_views", "rebuild", "release"]

# Lock lifetimes: a holder killed mid-flush or mid-rebuild blocks the others this long.
FLUSH_LOCK_S = 20.0
REBUILD_LOCK_S = 60.0
_INTENT = "offline_intent"
_ROWS = "offline_rows"  # the table's row count after our last append (a cache)


def _connector(settings: Settings, source: str) -> Connector:
    from potluck.offline.bindings import SourceBinding, connector_for_name
    from potluck.profiles import source_bindings

    return connector_for_name(source, SourceBinding(**source_bindings(settings)[source]))


def _count(connector: Connector, table: str, timestamp: str) -> int:
    try:
        return connector.read(ReadRequest(table=table, columns=[timestamp])).num_rows
    except SourceError as exc:
        if "missing" in exc.message or "does not exist" in exc.message:
            return 0
        raise


def _flush_locked(log: EventLog, settings: Settings, plan: SourcePlan) -> int:
    from potluck.offline.write import conform_pushed

    source = plan.source
    connector = _connector(settings, source)
    intent_text = log.meta(source, _INTENT)
    if intent_text:
        intent = json.loads(intent_text)
        now = _count(connector, source, plan.timestamp)
        if now == intent["before"] + intent["rows"]:
            log.outbox_done(source, intent["batches"])
            log.set_meta(source, _ROWS, str(now))
        elif now != intent["before"]:
            raise SourceError(
                source,
                connector.kind,
                f"offline table has {now} rows, expected {intent['before']} or "
                f"{intent['before'] + intent['rows']}: written by someone else during a flush",
            )
        else:
            log.set_meta(source, _ROWS, str(now))
        log.set_meta(source, _INTENT, None)
    batches = log.outbox(source)
    if not batches:
        return 0
    table = pa.concat_tables([t for _, t in batches], promote_options="permissive")
    cached = log.meta(source, _ROWS)
    # counted once, then tracked: a foreign append in between shows up at recovery as a
    # count that is neither before nor before + rows, and the flush stops there
    before = int(cached) if cached is not None else _count(connector, source, plan.timestamp)
    names = [b for b, _ in batches]
    log.set_meta(
        source, _INTENT, json.dumps({"batches": names, "before": before, "rows": table.num_rows})
    )
    try:
        schema = connector.schema(source)
    except SourceError:
        schema = plan.schema
    written = connector.write(
        source, conform_pushed(table, schema, source, connector.kind), mode="append"
    )
    log.outbox_done(source, names)
    log.set_meta(source, _ROWS, str(before + table.num_rows))
    log.set_meta(source, _INTENT, None)
    return written


def flush(log: EventLog, settings: Settings, plan: SourcePlan, owner: str) -> int:
    """Append every committed batch of the outbox to the offline table; returns rows."""
    with log.locked(plan.source, owner, FLUSH_LOCK_S, name="flush"):
        return _flush_locked(log, settings, plan)


def rebuild(log: EventLog, settings: Settings, plan: SourcePlan, owner: str, at: datetime) -> int:
    """Re-anchor every windowed view of ``plan`` at ``at``; returns keys written."""
    from potluck.windows.online import build_states

    windowed = plan.windowed
    if not windowed:
        return 0
    anchor_us = (at - to_datetime(0)) // timedelta(microseconds=1)
    anchor = to_datetime(anchor_us)
    with (
        log.locked(plan.source, owner, REBUILD_LOCK_S, name="flush"),
        log.locked(plan.source, owner, REBUILD_LOCK_S),
    ):
        _flush_locked(log, settings, plan)
        longest = max(t.longest for t in windowed)
        connector = _connector(settings, plan.source)
        try:
            events = connector.read(
                ReadRequest(
                    table=plan.source, timestamp_column=plan.timestamp, start=anchor - longest
                )
            )
        except SourceError as exc:
            if "missing" not in exc.message:
                raise
            events = plan.schema.empty_table()
        states: dict[str, dict[bytes, bytes]] = {}
        for target in windowed:
            built = build_states(
                events,
                list(target.key_columns),
                plan.timestamp,
                target.features,
                anchor,
                target.horizon,
            )
            if built:
                keys = pa.table(
                    {c: [k[i] for k in built] for i, c in enumerate(target.key_columns)},
                    schema=pa.schema([plan.schema.field(c) for c in target.key_columns]),
                )
                encoded = target.encode_keys(keys)
            else:
                encoded = []
            states[target.name] = dict(zip(encoded, built.values(), strict=True))
        log.install(plan.source, {t.name: anchor_us for t in windowed}, states)
    return sum(len(s) for s in states.values())


def owned_views(store: WindowStateStore, plan: SourcePlan) -> list[str]:
    """The windowed views of ``plan`` whose states its source's processor owns."""
    return [t.name for t in plan.windowed if store.owner(t.name) == plan.source]


def release(log: EventLog, settings: Settings, config: RepoConfig, plan: SourcePlan) -> list[str]:
    """Hand ``plan``'s window states back to batch materialization: under the lock, the
    outbox flushed first (so the offline table holds every committed event), then the
    owner records forgotten. Returns the views released."""
    from potluck.online.window_states import open_state_store

    views = [t.name for t in plan.windowed]
    with (
        log.locked(plan.source, "release", REBUILD_LOCK_S, name="flush"),
        log.locked(plan.source, "release", REBUILD_LOCK_S),
    ):
        _flush_locked(log, settings, plan)
        store = open_state_store(config)
        try:
            store.release(views)
        finally:
            store.close()
    return views
