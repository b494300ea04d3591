"""The event log: one interface, two implementations that live in the online store.

The log is kept in the same database as the online state it feeds -- Redis Streams
beside the Redis online store (services profile), a durable SQLite log inside the
embedded online store's file -- so a batch's online writes and the acknowledgement
of its log entries commit in ONE transaction (Redis ``MULTI``/``EXEC`` under
``WATCH``; one SQLite transaction, fsynced). That is the exactly-once argument:

* a batch's effects (window states, latest values, producer ids seen, watermark,
  dead letters, the outbox of rows for the offline table, counters) and the ``ACK``
  of its entries are applied together or not at all; an entry is redelivered only
  while unacknowledged, i.e. only if none of its effects exist;
* a consumer writes only while it holds its lease: whoever claims a silent
  consumer's pending entries first revokes its lease, and the silent consumer's
  commit (which watches / checks its lease) then fails instead of applying them twice;
* window-state re-anchoring and the offline flush run under the source's lock, which
  commits check, so neither races a batch.

Consumer groups: entries are delivered to one consumer of a group; its pending
entries are claimed by another after ``claim_idle`` (``XAUTOCLAIM`` on Redis).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from potluck.errors import PotluckError
from potluck.streams.apply import Snapshot, Writes
from potluck.streams.events import Entry

if TYPE_CHECKING:
    from potluck.online.stores.base import ViewLayout

__all__ = [
    "EventLog",
    "Fenced",
    "GroupStatus",
    "Locked",
    "Reads",
    "from_ipc",
    "recent_rates",
    "to_ipc",
]

DEFAULT_GROUP = "potluck"


class Fenced(PotluckError):
    """This consumer's lease was revoked (another claimed its entries): rejoin."""

    status_code = 409


class Locked(PotluckError):
    """The source's lock is held by someone else."""

    status_code = 409


@dataclass(frozen=True)
class Reads:
    """What a commit reads first (and watches) for one batch."""

    windowed: Mapping[str, list[bytes]]  # view -> unique entity keys
    latest: Mapping[str, tuple[ViewLayout, list[bytes]]]
    event_ids: list[str]


@dataclass
class GroupStatus:
    group: str
    consumers: list[dict[str, Any]] = field(default_factory=list)
    pending: int = 0
    lag: int | None = None
    last_committed: str | None = None
    committed_at: float | None = None
    applied: int = 0
    dead: int = 0
    late: int = 0
    duplicates: int = 0
    events_per_s: float | None = None


def recent_rates(stats: Mapping[str, str], within_s: float = 15.0) -> list[float]:
    """The events/s consumers reported (``rate:{consumer}`` = ``rate@unix time``) lately."""
    import time

    out = []
    for key, value in stats.items():
        if key.startswith("rate:") and "@" in value:
            rate, at = value.split("@", 1)
            if time.time() - float(at) <= within_s:
                out.append(float(rate))
    return out


def to_ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def from_ipc(blob: bytes) -> pa.Table:
    return pa.ipc.open_stream(pa.py_buffer(blob)).read_all()


Compute = Callable[[Snapshot], Writes]


class EventLog(ABC):
    """One log per online store; each source has its own stream in it."""

    kind: str

    # ------------------------------------------------------------------ producers
    @abstractmethod
    def append(self, source: str, events: Sequence[tuple[bytes, str | None]]) -> list[str]:
        """Append ``(data, event_id)`` events; returns their entry ids."""

    def append_batched(
        self, source: str, batches: Sequence[tuple[Sequence[bytes], Sequence[str | None]]]
    ) -> list[str]:
        """Append batched entries, each ``(data payloads, event ids)``, returning their entry
        ids. A log without the batched form appends one entry per event (returning
        those ids)."""
        return self.append(
            source, [pair for events, eids in batches for pair in zip(events, eids, strict=True)]
        )

    # ------------------------------------------------------------------ consumers
    @abstractmethod
    def join(self, source: str, group: str, consumer: str) -> None:
        """Create the group (from the log's start) if needed; take a lease."""

    @abstractmethod
    def read(
        self, source: str, group: str, consumer: str, count: int, block_ms: int, own: bool
    ) -> list[Entry]:
        """New entries for ``consumer`` (``own``: its own pending ones, after a restart)."""

    @abstractmethod
    def claim(
        self, source: str, group: str, consumer: str, min_idle_ms: int, count: int
    ) -> list[Entry]:
        """Revoke silent consumers' leases and claim their pending entries."""

    @abstractmethod
    def commit(
        self,
        source: str,
        group: str,
        consumer: str,
        ids: Sequence[str],
        reads: Reads,
        compute: Compute,
    ) -> Writes:
        """Read the snapshot, compute, apply the writes and ack ``ids`` atomically."""

    # ------------------------------------------------------------------ maintenance
    @abstractmethod
    @contextmanager
    def locked(
        self, source: str, owner: str, ttl_s: float = 300.0, name: str = "lock"
    ) -> Iterator[None]:
        """Hold one of the source's locks: ``lock`` (commits of others wait while it is
        held: re-anchoring) or ``flush`` (one offline flush at a time)."""

    @abstractmethod
    def outbox(self, source: str) -> list[tuple[str, pa.Table]]:
        """Committed batches not yet in the offline table, oldest first."""

    @abstractmethod
    def outbox_done(self, source: str, batches: Sequence[str]) -> None: ...

    @abstractmethod
    def meta(self, source: str, key: str) -> str | None: ...

    @abstractmethod
    def set_meta(self, source: str, key: str, value: str | None) -> None: ...

    @abstractmethod
    def anchors(self, source: str) -> dict[str, int]: ...

    @abstractmethod
    def install(
        self, source: str, anchors: Mapping[str, int], states: Mapping[str, Mapping[bytes, bytes]]
    ) -> None:
        """Replace window states and their anchors (under the lock)."""

    # ------------------------------------------------------------------ inspection
    @abstractmethod
    def status(self, source: str) -> list[GroupStatus]: ...

    @abstractmethod
    def length(self, source: str) -> int: ...

    @abstractmethod
    def trim(self, source: str, keep_s: float) -> int:
        """Delete entries older than ``keep_s`` seconds that every consumer group has
        acknowledged; returns how many. (A Spark query reads without a group: keep
        entries long enough for it.)"""

    @abstractmethod
    def dead_letters(self, source: str, count: int) -> list[dict[str, Any]]: ...

    def report_rate(self, source: str, group: str, consumer: str, rate: float) -> None:  # noqa: B027
        """Publish this consumer's events/s (for ``potluck stream status``)."""

    def close(self) -> None:  # noqa: B027 - optional
        """Release connections."""
