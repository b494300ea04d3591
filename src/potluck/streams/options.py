"""The stream processor's options and the progress it reports (``potluck stream run``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from potluck.streams.apply import MAX_AHEAD
from potluck.streams.events import MAX_EVENT_BYTES
from potluck.streams.log import DEFAULT_GROUP

__all__ = ["Progress", "StreamOptions"]


@dataclass
class StreamOptions:
    group: str = DEFAULT_GROUP
    consumer: str | None = None
    # Entries per read: a batch's commit costs about the same for 2,000 keys whatever
    # its event count, so a backlog goes fastest in big batches; a live stream's batches
    # are what arrived since the last one.
    batch: int = 20_000
    block_ms: int = 100
    claim_idle_ms: int = 30_000
    lateness: timedelta = timedelta(hours=1)
    max_ahead: timedelta = MAX_AHEAD  # events further ahead of the clock: `future`
    flush_every_s: float = 2.0
    max_bytes: int = MAX_EVENT_BYTES
    offline: bool = True
    retention: timedelta = timedelta(days=1)  # acknowledged entries kept this long
    # The processor's "now" for re-anchoring window states. A live stream uses the wall
    # clock; a replay of past events passes its own clock (the replayed time), so the
    # states stay anchored where the replayed events' reads happen.
    clock: Callable[[], datetime] | None = None
    # Keys per commit: a batch with more is committed in key partitions. It was 500 while
    # a Redis commit watched every key (Redis 7.0's WATCH costs O(watched keys^2)); a
    # commit now watches three keys (see streams._redis_commit), so a batch commits
    # whole: one transaction, one round of reads and writes per batch.
    commit_keys: int = 100_000


@dataclass
class Progress:
    applied: int = 0
    dead: int = 0
    late: int = 0
    duplicates: int = 0
    batches: int = 0
    claimed: int = 0
    reconnects: int = 0
    fenced: int = 0
    flushed: int = 0
    rebuilds: int = 0
    lag: dict[str, int | None] = field(default_factory=dict)
    events_per_s: float = 0.0
