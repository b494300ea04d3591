"""The event log on Redis Streams, beside the Redis online store (services profile).

Keys (``B = potluck:stream:{project}:{source}``)::

    B                     the stream: entries with fields data [, event_id]
    B:dead                dead letters: entry, reason, detail, data
    B:stats:{group}       counters: applied, dead, late, duplicates, last_id, ...
    B:lease:{group}:{c}   consumer c's lease ("alive" with a TTL, or "revoked")
    B:lock                the source's lock (re-anchoring, offline flush)
    B:wm                  the watermark (sorted set, member "wm", raised with ZADD GT)
    B:eid:{event_id}      producer ids applied (TTL: the dedup window)
    B:outbox              batch id -> Arrow IPC rows not yet in the offline table
    B:meta, B:anchors     bookkeeping; window anchors per view (µs)

A commit ``WATCH``es the consumer's lease, the lock, the batch's window-state keys,
entity hashes and producer-id keys, reads them, computes, and applies every write plus
``XACK`` in one ``MULTI``/``EXEC``; a concurrent change aborts it and it is retried.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pyarrow as pa
from feast.repo_config import RepoConfig

from potluck.streams.apply import Snapshot, Writes
from potluck.streams.events import Entry
from potluck.streams.log import (
    Compute,
    EventLog,
    Fenced,
    Locked,
    Reads,
    from_ipc,
    to_ipc,
)
from potluck.streams.redis_status import RedisInspection, _s

__all__ = ["RedisLog"]

_HGET_MANY = (
    "local o = {} for i, k in ipairs(KEYS) do o[i] = redis.call('HGET', k, ARGV[1]) end return o"
)
LEASE_MS = 60_000
DEDUP_TTL_MS = 24 * 3600 * 1000
DEAD_MAXLEN = 100_000
CLAIM_MARGIN_MS = 5_000


def _entries(raw: Any) -> list[Entry]:
    out = []
    for item in raw or []:
        entry_id, fields = item[0], item[1]
        if isinstance(fields, list):  # raw reply: [k, v, k, v]
            fields = dict(zip(fields[::2], fields[1::2], strict=True))
        fields = fields or {}
        eid = fields.get(b"event_id")
        out.append(Entry(_s(entry_id), fields.get(b"data", b""), _s(eid) if eid else None))
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

    @classmethod
    def connect(cls, host: str, port: int, db: int, project: str) -> RedisLog:
        """A log without a repo config (Spark executors: only the address travels)."""
        import redis

        return cls(None, client=redis.Redis(host=host, port=port, db=db), project=project)

    def _b(self, source: str) -> str:
        return f"potluck:stream:{self.project}:{source}"

    def _state_prefix(self, view: str) -> bytes:
        return f"potluck:win:{self.project}:{view}:".encode()

    # ------------------------------------------------------------------ producers
    def append(self, source: str, events: Sequence[tuple[bytes, str | None]]) -> list[str]:
        pipe = self.client.pipeline(transaction=False)
        for data, eid in events:
            fields = {b"data": data, **({b"event_id": eid.encode()} if eid else {})}
            pipe.xadd(self._b(source), fields)
        return [_s(x) for x in pipe.execute()]

    # ------------------------------------------------------------------ consumers
    def join(self, source: str, group: str, consumer: str) -> None:
        import redis

        try:
            self.client.xgroup_create(self._b(source), group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self.client.set(f"{self._b(source)}:lease:{group}:{consumer}", "alive", px=LEASE_MS)

    def read(
        self, source: str, group: str, consumer: str, count: int, block_ms: int, own: bool
    ) -> list[Entry]:
        stream = self._b(source)
        reply = self.client.xreadgroup(
            group,
            consumer,
            {stream: "0" if own else ">"},
            count=count,
            block=None if own else block_ms,
        )
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

        while True:
            try:
                writes = self._commit(source, reads, compute, (group, consumer, ids), None)
                assert writes is not None
                return writes
            except redis.WatchError:
                continue

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
                return self._commit(source, reads, compute, None, key)
            except redis.WatchError:
                continue

    def _commit(
        self,
        source: str,
        reads: Reads,
        compute: Compute,
        member: tuple[str, str, Sequence[str]] | None,
        marker: str | None,
    ) -> Writes | None:
        from google.protobuf.timestamp_pb2 import Timestamp

        b = self._b(source)
        group, consumer, ids = member or ("", "", [])
        lease, lock = marker or f"{b}:lease:{group}:{consumer}", f"{b}:lock"
        project = self.project.encode()
        state_keys = {
            v: [self._state_prefix(v) + k for k in ks] for v, ks in reads.windowed.items()
        }
        hash_keys = {v: [k + project for k in ks] for v, (_, ks) in reads.latest.items()}
        eid_keys = [f"{b}:eid:{e}" for e in reads.event_ids]
        pipe = self.client.pipeline(transaction=True)
        try:
            watched: list[str | bytes] = [lease, lock, *eid_keys]
            for keys in (*state_keys.values(), *hash_keys.values()):
                watched += keys
            pipe.watch(*watched)
            holder = pipe.get(lock)
            if holder is not None and _s(holder) != consumer:
                raise Locked(f"source '{source}' is locked by {_s(holder)}")
            if marker is not None:
                if pipe.get(marker) is not None:
                    return None  # applied before
            elif pipe.get(lease) != b"alive":
                raise Fenced(f"consumer {consumer}'s lease was revoked or expired")
            states = {
                v: dict(zip(reads.windowed[v], pipe.mget(keys) if keys else [], strict=True))
                for v, keys in state_keys.items()
            }
            latest: dict[str, dict[bytes, int | None]] = {}
            for v, keys in hash_keys.items():
                layout, plain = reads.latest[v]
                raw = self._hget_many(pipe, keys, f"_ts:{layout.stored_name}".encode())
                latest[v] = {
                    k: (None if r is None else _micros(Timestamp.FromString(r)))
                    for k, r in zip(plain, raw, strict=True)
                }
            seen = pipe.mget(eid_keys) if eid_keys else []
            anchors = {_s(k): int(v) for k, v in pipe.hgetall(f"{b}:anchors").items()}
            wm = pipe.zscore(f"{b}:wm", "wm")
            snapshot = Snapshot(
                states=states,
                latest=latest,
                seen={e for e, hit in zip(reads.event_ids, seen, strict=True) if hit is not None},
                anchors=anchors,
                watermark=None if wm is None else int(wm),
            )
            writes = compute(snapshot)
            pipe.multi()
            for v, new in writes.states.items():
                prefix = self._state_prefix(v)
                if new:
                    pipe.mset({prefix + k: s for k, s in new.items()})
            for v, (keys, times, table) in writes.latest.items():
                self._queue_latest(pipe, reads.latest[v][0], keys, times, table)
            if ids and member is not None:
                pipe.xack(b, group, *ids)
            for e in writes.event_ids:
                pipe.set(f"{b}:eid:{e}", 1, px=DEDUP_TTL_MS)
            for d in writes.dead:
                pipe.xadd(f"{b}:dead", d.to_fields(), maxlen=DEAD_MAXLEN, approximate=True)
            if writes.watermark is not None:
                pipe.zadd(f"{b}:wm", {"wm": writes.watermark}, gt=True)
            stats = f"{b}:stats:{group or 'spark'}"
            for name, n in (
                ("applied", writes.applied),
                ("dead", len(writes.dead)),
                ("late", writes.late),
                ("duplicates", writes.duplicates),
            ):
                if n:
                    pipe.hincrby(stats, name, n)
            if ids:
                last = ids[-1]  # entries come in stream order
                pipe.hset(stats, mapping={"last_id": last, "committed_at": time.time()})
            if writes.applied and writes.rows is not None:
                batch = f"{time.time_ns():020d}-{consumer or marker}"
                pipe.hset(f"{b}:outbox", batch, to_ipc(writes.rows))
            if marker is not None:
                pipe.set(marker, 1, ex=7 * 86400)
            else:
                pipe.set(lease, "alive", px=LEASE_MS)
            pipe.execute()
            return writes
        finally:
            pipe.reset()

    def _queue_latest(
        self, pipe: Any, layout: Any, keys: list[bytes], times: list[int], table: pa.Table
    ) -> None:
        from potluck.online._wire import encode_timestamps, encode_values
        from potluck.online.stores.redis._common import field_names

        if not keys:
            return
        project = self.project.encode()
        names = list(layout.features)
        fields = field_names(layout, names)
        values = [encode_values(table[n], layout.features[n]).to_pylist() for n in names]
        stamps = encode_timestamps(np.array(times, dtype=np.int64)).to_pylist()
        ts_field = f"_ts:{layout.stored_name}".encode()
        for i, key in enumerate(keys):
            mapping = {ts_field: stamps[i]}
            for f, column in zip(fields, values, strict=True):
                mapping[f] = column[i]
            pipe.hset(key + project, mapping=mapping)

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
        pipe.execute()

    def close(self) -> None:
        self.client.close()


def _micros(ts: Any) -> int:
    return int(ts.seconds) * 1_000_000 + int(ts.nanos) // 1000
