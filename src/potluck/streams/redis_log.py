"""The event log on Redis Streams, beside the Redis online store (services profile).

Keys (``B = potluck:stream:{project}:{source}``)::

    B                     the stream: entries with fields data [, event_id]
    B:dead                dead letters: entry, reason, detail, data
    B:stats:{group}       counters: applied, dead, late, duplicates, last_id, ...
    B:lease:{group}:{c}   consumer c's lease ("alive" with a TTL, or "revoked")
    B:done:{c}:{id}       set by c's commit of the batch starting at entry id (minutes;
                          see _redis_commit.done_key); B:done:{marker} for Spark's
    B:lock                the source's lock (re-anchoring, offline flush)
    B:wm                  the watermark (sorted set, member "wm", raised with ZADD GT)
    B:eid:{event_id}      producer ids applied (TTL: the dedup window)
    B:outbox              batch id -> Arrow IPC rows not yet in the offline table
    B:meta, B:anchors     bookkeeping; window anchors per view (µs)
    B:version             bumped by every commit (what a commit watches, with its lease
                          and the lock: see :mod:`potluck.streams._redis_commit`)

A commit ``WATCH``es the consumer's lease, the lock and the version, reads the batch's
window states, latest event times, producer ids and watermark, computes, and applies
every write plus ``XACK`` (and the version's ``INCR``) in one ``MULTI``/``EXEC``; a
concurrent commit aborts it and it is retried.

An entry holds one event (field ``data``) or many (``events``, newline-delimited JSON,
with ``event_ids``): see :mod:`potluck.streams.events`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import pyarrow as pa
from feast.repo_config import RepoConfig

from potluck.online.window_states import owner_key, state_prefix
from potluck.streams._redis_commit import LEASE_MS, commit_once
from potluck.streams.apply import Snapshot, Writes
from potluck.streams.events import Entry, encode_batch, producer_id
from potluck.streams.log import Compute, EventLog, Locked, Reads, from_ipc
from potluck.streams.redis_status import RedisInspection, _s

__all__ = ["RedisLog"]

_HGET_MANY = (
    "local o = {} for i, k in ipairs(KEYS) do o[i] = redis.call('HGET', k, ARGV[1]) end return o"
)
# Extends a lease that is still "alive"; never revives a revoked or expired one.
_KEEP_ALIVE = (
    "if redis.call('GET', KEYS[1]) == 'alive' then "
    "return redis.call('PEXPIRE', KEYS[1], ARGV[1]) end return 0"
)
CLAIM_MARGIN_MS = 5_000


def _entries(raw: Any) -> list[Entry]:
    """Entries of a raw reply (``[[id, [field, value, ...]], ...]``; fields are nil for an
    entry deleted while pending). The usual one-event entry (only ``data``) is taken
    without a dict: this loop runs once per event."""
    out = []
    for item in raw or []:
        entry_id, fields = item[0], item[1]
        if isinstance(fields, list) and len(fields) == 2 and fields[0] == b"data":
            out.append(Entry(entry_id.decode(), fields[1]))
            continue
        if isinstance(fields, list):
            fields = dict(zip(fields[::2], fields[1::2], strict=True))
        fields = fields or {}
        eid = fields.get(b"event_ids" if b"events" in fields else b"event_id")
        eid = producer_id(eid)
        if b"events" in fields:
            out.append(Entry(_s(entry_id), fields[b"events"], eid, batched=True))
        else:
            out.append(Entry(_s(entry_id), fields.get(b"data", b""), eid))
    return out


class RedisLog(RedisInspection, EventLog):
    kind = "redis"

    def __init__(self, config: RepoConfig | None, *, client: Any = None, project: str = "") -> None:
        if config is not None:
            from potluck.online.stores.redis._common import redis_client

            client, project = redis_client(config), config.project
        self.client: Any = client
        self.project = project
        self._hget_sha = ""
        # XREADGROUP's replies unparsed: redis-py makes a dict per entry, then so did we
        self._raw: Any = None
        self._kept_alive: dict[str, float] = {}  # lease key -> when last extended

    @classmethod
    def connect(cls, host: str, port: int, db: int, project: str) -> RedisLog:
        """A log without a repo config (Spark executors: only the address travels)."""
        import redis

        return cls(None, client=redis.Redis(host=host, port=port, db=db), project=project)

    def _b(self, source: str) -> str:
        return f"potluck:stream:{self.project}:{source}"

    def _state_prefix(self, view: str) -> bytes:
        return state_prefix(self.project, view)

    # ------------------------------------------------------------------ producers
    def append(self, source: str, events: Sequence[tuple[bytes, str | None]]) -> list[str]:
        pipe = self.client.pipeline(transaction=False)
        for data, eid in events:
            fields = {b"data": data, **({b"event_id": eid.encode()} if eid else {})}
            pipe.xadd(self._b(source), fields)
        return [_s(x) for x in pipe.execute()]

    def append_batched(
        self, source: str, batches: Sequence[tuple[Sequence[bytes], Sequence[str | None]]]
    ) -> list[str]:
        """Append batched entries (each: events' ``data`` payloads and their ids)."""
        pipe = self.client.pipeline(transaction=False)
        for events, eids in batches:
            pipe.xadd(self._b(source), encode_batch(events, eids))
        return [_s(x) for x in pipe.execute()]

    # ------------------------------------------------------------------ consumers
    def join(self, source: str, group: str, consumer: str) -> None:
        import redis

        try:
            self.client.xgroup_create(self._b(source), group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        lease = f"{self._b(source)}:lease:{group}:{consumer}"
        self.client.set(lease, "alive", px=LEASE_MS)
        self._kept_alive[lease] = time.monotonic()

    def _keep_alive(self, source: str, group: str, consumer: str) -> None:
        """A commit extends its consumer's lease; so does reading, at most every third of
        the lease: a source without events for a minute kept its consumer but not its
        lease, and its next commit was fenced (the entries waited for a claim)."""
        lease = f"{self._b(source)}:lease:{group}:{consumer}"
        now = time.monotonic()
        if now - self._kept_alive.get(lease, 0.0) >= LEASE_MS / 3000:
            self._kept_alive[lease] = now
            self.client.eval(_KEEP_ALIVE, 1, lease, LEASE_MS)

    def read(
        self, source: str, group: str, consumer: str, count: int, block_ms: int, own: bool
    ) -> list[Entry]:
        self._keep_alive(source, group, consumer)
        if self._raw is None:
            import redis

            self._raw = redis.Redis(connection_pool=self.client.connection_pool)
            self._raw.set_response_callback("XREADGROUP", lambda r, **_: r)
        args: list[Any] = ["GROUP", group, consumer, "COUNT", count]
        if not own:
            args += ["BLOCK", block_ms]
        args += ["STREAMS", self._b(source), "0" if own else ">"]
        reply = self._raw.execute_command("XREADGROUP", *args)
        return _entries(reply[0][1]) if reply else []

    def claim(
        self, source: str, group: str, consumer: str, min_idle_ms: int, count: int
    ) -> list[Entry]:
        stream = self._b(source)
        # Every owner of an entry XAUTOCLAIM could take (idle >= min_idle, listed with a
        # margin) is fenced first: its lease is revoked, so its own commit of them fails.
        listed = self.client.xpending_range(
            stream,
            group,
            min="-",
            max="+",
            count=count,
            idle=max(0, min_idle_ms - min(CLAIM_MARGIN_MS, min_idle_ms // 4)),
        )
        owners = {_s(row["consumer"]) for row in listed or []} - {consumer}
        for owner in owners:
            self.client.set(f"{stream}:lease:{group}:{owner}", "revoked", ex=7 * 86400)
        if not owners:
            return []
        reply = self.client.execute_command(
            "XAUTOCLAIM", stream, group, consumer, min_idle_ms, "0-0", "COUNT", count
        )
        entries = _entries(reply[1])
        # entries deleted from the stream meanwhile: acknowledged as empty (dead) ones
        entries += [Entry(_s(i), b"") for i in (reply[2] if len(reply) > 2 else [])]
        return entries

    def _hget_many(self, pipe: Any, keys: list[bytes], field: bytes) -> list[Any]:
        import redis

        if not keys:
            return []
        if not self._hget_sha:
            self._hget_sha = self.client.script_load(_HGET_MANY)
        try:
            return list(pipe.execute_command("EVALSHA", self._hget_sha, len(keys), *keys, field))
        except redis.exceptions.NoScriptError:
            self._hget_sha = self.client.script_load(_HGET_MANY)
            return list(pipe.execute_command("EVALSHA", self._hget_sha, len(keys), *keys, field))

    def commit(
        self,
        source: str,
        group: str,
        consumer: str,
        ids: Sequence[str],
        reads: Reads,
        compute: Compute,
    ) -> Writes:
        import redis

        computed: list[Writes] = []

        def kept(snapshot: Snapshot) -> Writes:
            computed[:] = [compute(snapshot)]
            return computed[0]

        while True:
            try:
                writes = commit_once(self, source, reads, kept, (group, consumer, ids), None)
            except redis.WatchError:
                continue  # overtaken by another commit, or the reply of EXEC was lost
            # None: the last attempt's EXEC ran but its reply was lost (its token is set)
            return writes if writes is not None else (computed[0] if computed else Writes())

    def commit_marked(
        self, source: str, marker: str, reads: Reads, compute: Compute
    ) -> Writes | None:
        """Like :meth:`commit`, fenced by a marker instead of a consumer: applied with
        ``marker`` set in the same transaction, skipped (None) if it is already set.
        Spark's micro-batches use ``(query, batch id, partition)``: a re-run batch is
        applied once."""
        import redis

        key = f"{self._b(source)}:done:{marker}"
        while True:
            try:
                return commit_once(self, source, reads, compute, None, key)
            except redis.WatchError:
                continue

    # ------------------------------------------------------------------ maintenance
    @contextmanager
    def locked(
        self, source: str, owner: str, ttl_s: float = 300.0, name: str = "lock"
    ) -> Iterator[None]:
        lock = f"{self._b(source)}:{name}"
        deadline = time.monotonic() + ttl_s
        while not self.client.set(lock, owner, nx=True, px=int(ttl_s * 1000)):
            if time.monotonic() > deadline:
                raise Locked(f"source '{source}' stayed locked by {_s(self.client.get(lock))}")
            time.sleep(0.05)
        try:
            yield
        finally:
            if self.client.get(lock) == owner.encode():
                self.client.delete(lock)

    def outbox(self, source: str) -> list[tuple[str, pa.Table]]:
        found = self.client.hgetall(f"{self._b(source)}:outbox")
        return [(_s(k), from_ipc(found[k])) for k in sorted(found)]

    def outbox_done(self, source: str, batches: Sequence[str]) -> None:
        if batches:
            self.client.hdel(f"{self._b(source)}:outbox", *batches)

    def meta(self, source: str, key: str) -> str | None:
        value = self.client.hget(f"{self._b(source)}:meta", key)
        return None if value is None else _s(value)

    def set_meta(self, source: str, key: str, value: str | None) -> None:
        if value is None:
            self.client.hdel(f"{self._b(source)}:meta", key)
        else:
            self.client.hset(f"{self._b(source)}:meta", key, value)

    def anchors(self, source: str) -> dict[str, int]:
        return {_s(k): int(v) for k, v in self.client.hgetall(f"{self._b(source)}:anchors").items()}

    def install(
        self, source: str, anchors: Mapping[str, int], states: Mapping[str, Mapping[bytes, bytes]]
    ) -> None:
        if anchors:  # owned before the scan: a materialize write in flight aborts (it
            # watches the owner key) instead of landing between the scan and the EXEC
            self.client.mset({owner_key(self.project, view): source for view in anchors})
        pipe = self.client.pipeline(transaction=True)
        for view, new in states.items():
            prefix = self._state_prefix(view)
            old = set(self.client.scan_iter(match=prefix + b"*", count=1000))
            gone = old - {prefix + k for k in new}
            if gone:
                pipe.delete(*gone)
            if new:
                pipe.mset({prefix + k: s for k, s in new.items()})
        if anchors:
            pipe.hset(f"{self._b(source)}:anchors", mapping=dict(anchors))
        pipe.incr(f"{self._b(source)}:version")  # a commit that read the old states aborts
        pipe.execute()

    def close(self) -> None:
        self.client.close()
