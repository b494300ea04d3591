"""One commit of a batch on Redis: read, compute, apply every write plus ``XACK`` in one
``MULTI``/``EXEC`` (see :mod:`potluck.streams.redis_log` for the keys).

What is watched. Every commit ``INCR``s the source's version key ``B:version`` inside
its transaction, so a commit that watches ``B:version`` (with its lease and the lock)
aborts whenever any other commit of the source -- another consumer of the group, a
Spark partition -- landed between its reads and its ``EXEC``: the states, latest event
times, producer ids and watermark it read are then still what it overwrites. That is
three watched keys instead of one per state, hash and producer id: Redis 7.0's ``WATCH``
costs O(watched keys^2) (4,000 keys: ~160 ms), which had forced batches into commits of
500 keys. Re-anchoring installs states under the lock (watched) and bumps the version.

A marker commit (Spark: partitions of one micro-batch commit side by side, on disjoint
keys) watches its own keys as before, so partitions do not abort one another; it bumps
the version too, so an in-process processor's commit still sees it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from potluck.streams.apply import Snapshot, Writes
from potluck.streams.log import Compute, Fenced, Locked, Reads, to_ipc
from potluck.streams.redis_status import _s

if TYPE_CHECKING:
    from potluck.streams.redis_log import RedisLog

LEASE_MS = 60_000
DEDUP_TTL_MS = 24 * 3600 * 1000
DEAD_MAXLEN = 100_000


def commit_once(
    log: RedisLog,
    source: str,
    reads: Reads,
    compute: Compute,
    member: tuple[str, str, Sequence[str]] | None,
    marker: str | None,
) -> Writes | None:
    """One attempt; ``redis.WatchError`` when a concurrent commit got in first."""
    from google.protobuf.timestamp_pb2 import Timestamp

    b = log._b(source)
    group, consumer, ids = member or ("", "", [])
    lease, lock, version = marker or f"{b}:lease:{group}:{consumer}", f"{b}:lock", f"{b}:version"
    project = log.project.encode()
    prefixes = {v: log._state_prefix(v) for v in reads.windowed}
    state_keys = {v: [prefixes[v] + k for k in ks] for v, ks in reads.windowed.items()}
    hash_keys = {v: [k + project for k in ks] for v, (_, ks) in reads.latest.items()}
    eid_keys = [f"{b}:eid:{e}" for e in reads.event_ids]
    pipe = log.client.pipeline(transaction=True)
    try:
        watched: list[str | bytes] = [lease, lock, version]
        if marker is not None:
            watched += eid_keys
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
            raw = log._hget_many(pipe, keys, f"_ts:{layout.stored_name}".encode())
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
            prefix = log._state_prefix(v)
            if new:
                pipe.mset({prefix + k: s for k, s in new.items()})
        for v, (keys, times, table) in writes.latest.items():
            _queue_latest(pipe, project, reads.latest[v][0], keys, times, table)
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
        pipe.incr(version)
        pipe.execute()
        return writes
    finally:
        pipe.reset()


def _queue_latest(
    pipe: Any, project: bytes, layout: Any, keys: list[bytes], times: list[int], table: pa.Table
) -> None:
    from potluck.online._wire import encode_timestamps, encode_values
    from potluck.online.stores.redis._common import field_names
    from potluck.online.stores.redis.writer import WRITE_SCRIPT

    if not keys:
        return
    names = list(layout.features)
    fields = field_names(layout, names)
    values = [encode_values(table[n], layout.features[n]).to_pylist() for n in names]
    micros = np.array(times, dtype=np.int64)
    stamps = encode_timestamps(micros).to_pylist()
    seconds = np.floor_divide(micros, 1_000_000).tolist()
    nanos = (np.mod(micros, 1_000_000) * 1000).tolist()
    ts_field = f"_ts:{layout.stored_name}".encode()
    # The online writer's script, queued in the MULTI: one command for the batch, and
    # newer wins against the stored event time -- commits watch the version key, not
    # these hashes, so a `potluck materialize` or push may have written a newer value
    # since the snapshot; it is kept. EVAL, not EVALSHA: inside MULTI a missing script
    # would fail alone at EXEC while the rest of the transaction applied.
    args: list[Any] = [ts_field, 1, 0, 4 + 2 * len(fields)]  # dedup on, no key TTL
    for s, n, stamp, *row in zip(seconds, nanos, stamps, *values, strict=True):
        args += [s, n, ts_field, stamp]
        for field, value in zip(fields, row, strict=True):
            args += [field, value]
    keyed = [k + project for k in keys]
    pipe.execute_command("EVAL", WRITE_SCRIPT, len(keys), *keyed, *args)


def _micros(ts: Any) -> int:
    return int(ts.seconds) * 1_000_000 + int(ts.nanos) // 1000
