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
DONE_MS = 5 * LEASE_MS  # a member commit's token (see done_key)
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
        # the member commit's token: see done_key (one MGET with the lock and lease)
        done = done_key(b, consumer, ids) if member is not None and ids else None
        holder, held, *applied = pipe.mget(lock, lease, *([done] if done else []))
        if marker is not None and held is not None:
            return None  # applied before
        if applied and applied[0] is not None:
            return None  # an earlier attempt's EXEC ran, its reply was lost
        if holder is not None and _s(holder) != consumer:
            raise Locked(f"source '{source}' is locked by {_s(holder)}")
        if marker is None and held != b"alive" and not _retake(pipe, b, member, held):
            raise Fenced(f"consumer {consumer}'s lease was revoked")
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
            if done:
                pipe.set(done, 1, px=DONE_MS)
        pipe.incr(version)
        pipe.execute()
        return writes
    finally:
        pipe.reset()


def done_key(b: str, consumer: str, ids: Sequence[str]) -> str:
    """The token a member commit sets in its transaction. redis-py turns a connection
    lost while keys are watched into a ``WatchError`` even when the server ran the
    ``EXEC``; the retry finds the token and applies nothing twice. A batch's first id
    names it: a consumer acknowledges an entry once, and key partitions of one batch
    hold disjoint ids. It only has to outlive the retry loop of one commit (after a
    reconnect the consumer re-reads its pending entries: the applied ones are acked)."""
    return f"{b}:done:{consumer}:{ids[0]}"


def _retake(pipe: Any, b: str, member: tuple[str, str, Sequence[str]] | None, held: Any) -> bool:
    """Whether a lease that is gone (expired: a stalled process, a long outage) may be
    taken back by this commit, whose ``EXEC`` sets it again. A claimer revokes a lease
    (``revoked``, kept 7 days) before it claims, so a revoked one is never taken back;
    an expired one only while every id of the batch is still pending for this consumer
    -- nobody claimed them. The lease stays watched: a claimer revoking it from now on
    aborts the ``EXEC``. Rare (the processor refreshes its lease while idle), so the
    per-id check costs nothing in the usual commit."""
    if held is not None or member is None or not member[2]:
        return False
    group, consumer, ids = member
    want = set(ids)
    order = sorted(want, key=_id_key)
    low, high = order[0], order[-1]
    while want:
        page = pipe.xpending_range(b, group, low, high, 1000, consumername=consumer)
        want -= {_s(row["message_id"]) for row in page}
        if len(page) < 1000:
            break
        low = "(" + _s(page[-1]["message_id"])
    return not want


def _id_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


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
