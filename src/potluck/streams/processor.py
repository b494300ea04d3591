"""``potluck stream run``: the in-process stream processor.

Loop, per source: take a batch (its own pending entries after a (re)start, entries
claimed from silent consumers, else new ones), validate it against the source's
declared schema, and commit it with :meth:`EventLog.commit` -- online writes, dead
letters, the outbox for the offline table and the acknowledgement in one
transaction (see :mod:`potluck.streams.log` for why that is exactly once). A thread
flushes the outbox into the offline table; window states are re-anchored every half
horizon. Connection failures (a Redis restart) are waited out: the batch in hand is
dropped and re-read from the consumer's pending entries once the server is back.
"""

from __future__ import annotations

import gc
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from potluck.errors import ConfigurationError
from potluck.streams.apply import (
    SourcePlan,
    Writes,
    batch_keys,
    compute,
    key_partitions,
    plan_source,
    to_datetime,
)
from potluck.streams.backends import open_log
from potluck.streams.events import Entry, Validated, validate
from potluck.streams.log import EventLog, Fenced, Locked, Reads
from potluck.streams.offline import flush, owned_views, rebuild
from potluck.streams.options import Progress, StreamOptions

if TYPE_CHECKING:
    from potluck.features.repo import FeatureRepo
    from potluck.online.window_states import WindowStateStore

__all__ = ["Processor", "Progress", "StreamOptions", "stream_plans"]

_FROZEN = False  # gc.freeze() done (see Processor.start)


OWNER_CHECK_S = 5.0  # how soon a running processor takes back states released under it


def stream_plans(repo: FeatureRepo, sources: Sequence[str] | None) -> list[SourcePlan]:
    """A plan for each requested source (default: every source an online view reads)."""
    from potluck.deployment import active_deployment

    deployment = active_deployment(repo.settings)
    views = repo.store.registry.list_feature_views(repo.config.project, allow_cache=True)
    names = list(sources) if sources else list(deployment.sources)
    plans = []
    for name in names:
        spec = deployment.sources.get(name)
        if spec is None:
            known = ", ".join(deployment.sources)
            raise ConfigurationError(f"unknown source '{name}' (known: {known})")
        plan = plan_source(name, spec.schema, spec.timestamp_field, views, repo.config)
        if plan.targets or sources:
            plans.append(plan)
    if not plans:
        raise ConfigurationError("no source feeds an online feature view: nothing to stream")
    return plans


def _errors() -> tuple[type[BaseException], ...]:
    import sqlite3

    try:
        import redis
    except ImportError:  # pragma: no cover
        return (OSError, sqlite3.OperationalError)
    return (redis.ConnectionError, redis.TimeoutError, OSError, sqlite3.OperationalError)


class Processor:
    def __init__(
        self,
        repo: FeatureRepo,
        sources: Sequence[str] | None = None,
        options: StreamOptions | None = None,
    ) -> None:
        self.repo = repo
        self.options = options or StreamOptions()
        self.plans = stream_plans(repo, sources)
        self.log: EventLog = open_log(repo)
        self.consumer = self.options.consumer or self._new_name()
        self.progress = Progress()
        self._own = {p.source: True for p in self.plans}
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None
        self._last_claim: dict[str, float] = {}  # per source: one timer starved the others
        self._owner_checked: dict[str, float] = {}
        self._states: WindowStateStore | None = None  # opened at the first owner check
        self._rate_window: list[tuple[float, int]] = []

    @staticmethod
    def _new_name() -> str:
        return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        for plan in self.plans:
            self.log.join(plan.source, self.options.group, self.consumer)
            self.log.set_meta(plan.source, "offline_rows", None)  # recount once
            # released since the last run: re-anchor, and own again (the first check)
            self._maybe_rebuild(plan, force=False)
        # Everything loaded so far (Feast, the registry, Arrow) lives as long as the
        # process: out of the collector's reach, a full collection no longer walks it
        # every few batches (each batch allocates ~10 objects per event). Once per
        # process: a later processor (tests, a workflow) would freeze its predecessors'
        # garbage for good.
        global _FROZEN
        if not _FROZEN:
            _FROZEN = True
            gc.freeze()
        if self.options.offline and self._flusher is None:
            self._flusher = threading.Thread(target=self._flush_loop, daemon=True, name="flush")
            self._flusher.start()

    def stop(self) -> None:
        self._stop.set()
        if self._flusher is not None:
            self._flusher.join()
            self._flusher = None
        if self.options.offline:
            self.flush()

    def close(self) -> None:
        self.stop()
        self.log.close()
        if self._states is not None:
            self._states.close()

    def _now(self) -> datetime:
        """The processor's clock (a replay's, or the wall clock)."""
        return self.options.clock() if self.options.clock else datetime.now(UTC)

    def flush(self) -> int:
        total = 0
        for plan in self.plans:
            total += flush(self.log, self.repo.settings, plan, f"{self.consumer}:flush")
        self.progress.flushed += total
        return total

    def _flush_loop(self) -> None:
        trimmed = time.monotonic()
        while not self._stop.wait(self.options.flush_every_s):
            try:
                self.flush()
                if time.monotonic() - trimmed > 60:
                    trimmed = time.monotonic()
                    keep = self.options.retention.total_seconds()
                    for plan in self.plans:
                        self.log.trim(plan.source, keep)
            except _errors():
                continue  # the server is away; the next round retries

    def _maybe_rebuild(self, plan: SourcePlan, force: bool) -> None:
        windowed = plan.windowed
        if not windowed:
            return
        if time.monotonic() - self._owner_checked.get(plan.source, 0.0) > OWNER_CHECK_S:
            # released while running (`potluck stream release`): re-anchor and own again,
            # or a materialization could replace states this processor commits to
            self._owner_checked[plan.source] = time.monotonic()
            if self._states is None:
                from potluck.online.window_states import open_state_store

                self._states = open_state_store(self.repo.config)
            force = force or len(owned_views(self._states, plan)) < len(windowed)
        anchors = self.log.anchors(plan.source)
        now = self._now()
        due = force or any(
            t.name not in anchors or now > to_datetime(anchors[t.name]) + t.horizon / 2
            for t in windowed
        )
        if due:
            rebuild(self.log, self.repo.settings, plan, self.consumer, now.replace(microsecond=0))
            self.progress.rebuilds += 1

    # ------------------------------------------------------------------ one batch
    def _take(self, plan: SourcePlan, block_ms: int) -> list[Entry]:
        o, source = self.options, plan.source
        if self._own[source]:
            entries = self.log.read(source, o.group, self.consumer, o.batch, 0, own=True)
            if entries:
                return entries
            self._own[source] = False
        if time.monotonic() - self._last_claim.get(source, 0.0) > min(5.0, o.claim_idle_ms / 2000):
            self._last_claim[source] = time.monotonic()
            entries = self.log.claim(source, o.group, self.consumer, o.claim_idle_ms, o.batch)
            if entries:
                self.progress.claimed += len(entries)
                return entries
        entries = self.log.read(source, o.group, self.consumer, o.batch, block_ms, own=False)
        if not entries:
            # Nothing new: look at our own pending entries next time. A read whose reply
            # was lost leaves entries delivered to this consumer that no batch holds --
            # redis-py retries a command after a reconnect, so the loss raises nothing.
            self._own[source] = True
        return entries

    def process(self, plan: SourcePlan, entries: Sequence[Entry]) -> Writes:
        """Validate and commit one batch of entries: in one transaction, or one per key
        partition when the batch holds more than ``commit_keys`` keys (each acknowledges
        its own entries, so each is exactly once on its own). A batch with batched
        entries commits whole: an entry is acknowledged once, with all of its events."""
        o = self.options
        required = [*plan.key_columns, plan.timestamp]
        checked = validate(entries, plan.schema, required, o.max_bytes)
        rows = checked.rows
        keys = batch_keys(plan, rows) if rows.num_rows else {t.name: [] for t in plan.targets}
        good = set(checked.ids)
        rest = [e.id for e in entries if e.id not in good]  # dead letters: acked with a part
        parts = (
            None if any(e.batched for e in entries) else key_partitions(plan, keys, o.commit_keys)
        )
        if parts is None:
            return self._commit(plan, [e.id for e in entries], rows, checked, keys, checked.dead)
        total = Writes(rows=rows.schema.empty_table())
        tables = []
        for n, index in enumerate(parts):
            at = index.tolist()
            ack = [checked.ids[i] for i in at] + (rest if n == len(parts) - 1 else [])
            sub = Validated(
                rows.take(pa.array(index)),
                [checked.ids[i] for i in at],
                [checked.event_ids[i] for i in at],
                checked.dead if n == len(parts) - 1 else [],
            )
            part_keys = {view: [ks[i] for i in at] for view, ks in keys.items()}
            writes = self._commit(plan, ack, sub.rows, sub, part_keys, sub.dead)
            tables.append(writes.rows if writes.rows is not None else sub.rows.slice(0, 0))
            total.dead += writes.dead
            total.late += writes.late
            total.duplicates += writes.duplicates
        total.rows = pa.concat_tables(tables)
        return total

    def _commit(
        self,
        plan: SourcePlan,
        ids: list[str],
        rows: pa.Table,
        checked: Validated,
        keys: dict[str, list[bytes]],
        dead: list[Any],
    ) -> Writes:
        o = self.options
        unique: dict[int, list[bytes]] = {}  # views sharing a key list share its uniques
        for t in plan.targets:
            if id(keys[t.name]) not in unique:
                unique[id(keys[t.name])] = list(dict.fromkeys(keys[t.name]))
        reads = Reads(
            windowed={t.name: unique[id(keys[t.name])] for t in plan.windowed},
            latest={
                t.name: (t.layout, unique[id(keys[t.name])])  # type: ignore[misc]
                for t in plan.latest
            },
            event_ids=list(dict.fromkeys(e for e in checked.event_ids if e is not None)),
        )

        now = self._now()

        def work(snapshot: Any) -> Writes:
            writes = compute(
                plan, rows, checked.ids, checked.event_ids, keys, snapshot, o.lateness,
                now + o.max_ahead,
            )  # fmt: skip
            writes.dead = [*dead, *writes.dead]
            return writes

        while True:
            try:
                return self.log.commit(plan.source, o.group, self.consumer, ids, reads, work)
            except Locked:
                time.sleep(0.05)  # re-anchoring or another maintenance step: wait

    def step(self, block_ms: int | None = None) -> int:
        """One batch per source; returns the entries handled."""
        handled = 0
        for plan in self.plans:
            try:
                self._maybe_rebuild(plan, force=False)
                entries = self._take(plan, self.options.block_ms if block_ms is None else block_ms)
                if not entries:
                    continue
                writes = self.process(plan, entries)
            except Fenced:
                self.progress.fenced += 1
                self._rename()
                continue
            except _errors():
                self.progress.reconnects += 1
                self._own[plan.source] = True  # after the outage: re-read what we held
                time.sleep(0.2)
                continue
            handled += len(entries)
            p = self.progress
            p.applied += writes.applied
            p.dead += len(writes.dead)
            p.late += writes.late
            p.duplicates += writes.duplicates
            p.batches += 1
        self._rate(handled)
        return handled

    def _rename(self) -> None:
        """Rejoin under a new name after a fence; the old name's entries go to a claimer.
        Every source: the new name had no lease (Redis) or consumer row (SQLite) on the
        others, whose next commit was fenced in turn, renaming again -- forever."""
        self.consumer = self._new_name()
        for plan in self.plans:
            self.log.join(plan.source, self.options.group, self.consumer)

    def _rate(self, handled: int) -> None:
        now = time.monotonic()
        window = self._rate_window
        window.append((now, handled))
        while window and now - window[0][0] > 5.0:
            window.pop(0)
        span = now - window[0][0] if len(window) > 1 else 0.0
        self.progress.events_per_s = sum(n for _, n in window[1:]) / span if span else 0.0

    def run(
        self,
        *,
        max_events: int | None = None,
        idle_exit_s: float | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        every_s: float = 1.0,
    ) -> Progress:
        """Process until stopped, ``max_events`` handled, or idle for ``idle_exit_s``."""
        self.start()
        handled, idle_since, shown = 0, time.monotonic(), 0.0
        try:
            while not self._stop.is_set():
                n = self.step()
                handled += n
                now = time.monotonic()
                if n:
                    idle_since = now
                if now - shown >= every_s:
                    shown = now
                    self._report(on_progress)
                if max_events is not None and handled >= max_events:
                    break
                if idle_exit_s is not None and now - idle_since >= idle_exit_s:
                    break
        finally:
            self.stop()
            self._report(on_progress)
        return self.progress

    def _report(self, on_progress: Callable[[Progress], None] | None) -> None:
        try:
            for plan in self.plans:
                groups = {g.group: g for g in self.log.status(plan.source)}
                group = groups.get(self.options.group)
                self.progress.lag[plan.source] = None if group is None else group.lag
                self.log.report_rate(
                    plan.source, self.options.group, self.consumer, self.progress.events_per_s
                )
        except _errors():
            pass
        if on_progress is not None:
            on_progress(self.progress)
