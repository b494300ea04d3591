"""The durable local log of the embedded profile: tables inside the SQLite online store.

No server: the log, the consumer groups' cursors and pending entries, the window
states and Feast's online rows share one SQLite file, so a batch commits its online
writes and the deletion of its pending entries in ONE transaction (WAL, fsynced:
``synchronous = FULL``). A killed processor loses nothing committed; its pending
entries are claimed by the next consumer after ``claim_idle``.

Tables (``potluck_stream_*``): ``log`` (id, source, data, event_id, at), ``groups``
(delivered cursor), ``pending`` (id, consumer, delivered_at), ``consumers`` (lease,
revoked), ``dead``, ``stats``, ``eids`` (producer ids applied, with expiry), ``meta``
(watermark, lock, anchors, offline bookkeeping), ``outbox``, ``latest`` (event time
in µs of each latest-value row written).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from feast.repo_config import RepoConfig

from potluck.online.window_states import OWNERS_DDL
from potluck.streams.apply import Snapshot, Writes
from potluck.streams.events import Entry, producer_id
from potluck.streams.local_status import LocalInspection
from potluck.streams.log import (
    Compute,
    EventLog,
    Fenced,
    Locked,
    Reads,
    to_ipc,
)

__all__ = ["LocalLog"]

DEDUP_TTL_S = 24 * 3600.0
LEASE_S = 60.0
_SCHEMA = """
CREATE TABLE IF NOT EXISTS potluck_stream_log (id INTEGER PRIMARY KEY AUTOINCREMENT,
  source TEXT NOT NULL, data BLOB NOT NULL, event_id TEXT, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS potluck_stream_log_source ON potluck_stream_log (source, id);
CREATE TABLE IF NOT EXISTS potluck_stream_groups (source TEXT, grp TEXT, delivered INTEGER,
  PRIMARY KEY (source, grp)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS potluck_stream_pending (source TEXT, grp TEXT, id INTEGER,
  consumer TEXT, delivered_at REAL, PRIMARY KEY (source, grp, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS potluck_stream_consumers (source TEXT, grp TEXT, consumer TEXT,
  seen_at REAL, revoked INTEGER DEFAULT 0, PRIMARY KEY (source, grp, consumer)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS potluck_stream_dead (n INTEGER PRIMARY KEY AUTOINCREMENT,
  source TEXT, entry TEXT, reason TEXT, detail TEXT, data BLOB, at REAL);
CREATE TABLE IF NOT EXISTS potluck_stream_stats (source TEXT, grp TEXT, name TEXT, value TEXT,
  PRIMARY KEY (source, grp, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS potluck_stream_eids (source TEXT, event_id TEXT, expires REAL,
  PRIMARY KEY (source, event_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS potluck_stream_meta (source TEXT, key TEXT, value TEXT,
  PRIMARY KEY (source, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS potluck_stream_outbox (source TEXT, batch TEXT, rows BLOB,
  PRIMARY KEY (source, batch)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS potluck_stream_latest (view TEXT, entity_key BLOB, ts INTEGER,
  PRIMARY KEY (view, entity_key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS potluck_window_states (project TEXT NOT NULL, view TEXT NOT NULL,
  entity_key BLOB NOT NULL, state BLOB NOT NULL, PRIMARY KEY (project, view, entity_key))
  WITHOUT ROWID;
"""


def _marks(n: int) -> str:
    return ",".join("?" * n)


class LocalLog(LocalInspection, EventLog):
    kind = "sqlite"

    def __init__(self, config: RepoConfig) -> None:
        from potluck.online.stores.sqlite import SqliteWriter
        from potluck.online.stores.sqlite._common import connect, prepare_database, sqlite_path

        self.path = sqlite_path(config)
        prepare_database(self.path)
        self.project = config.project
        self.conn = connect(self.path)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = FULL")  # fsync every commit
        self.conn.executescript(_SCHEMA + OWNERS_DDL + ";")
        self._writer = SqliteWriter(config)  # encodes Feast's rows; we run them here
        self._lock = threading.RLock()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    # ------------------------------------------------------------------ producers
    def append(self, source: str, events: Sequence[tuple[bytes, str | None]]) -> list[str]:
        now = time.time()
        with self._tx() as c:
            ids = []
            for data, eid in events:
                cur = c.execute(
                    "INSERT INTO potluck_stream_log (source, data, event_id, at) VALUES (?,?,?,?)",
                    (source, data, eid, now),
                )
                ids.append(str(cur.lastrowid))
        return ids

    # ------------------------------------------------------------------ consumers
    def join(self, source: str, group: str, consumer: str) -> None:
        with self._tx() as c:
            c.execute(
                "INSERT OR IGNORE INTO potluck_stream_groups VALUES (?, ?, 0)", (source, group)
            )
            c.execute(
                "INSERT OR REPLACE INTO potluck_stream_consumers VALUES (?, ?, ?, ?, 0)",
                (source, group, consumer, time.time()),
            )

    def _entries(self, c: sqlite3.Connection, source: str, ids: Sequence[int]) -> list[Entry]:
        if not ids:
            return []
        found = {
            row[0]: row
            for row in c.execute(
                # as bytes whatever was stored: a row written by hand may hold TEXT, or
                # text that is not UTF-8 (which sqlite3 would fail to decode)
                "SELECT id, CAST(data AS BLOB), CAST(event_id AS BLOB) FROM potluck_stream_log "
                f"WHERE id IN ({_marks(len(ids))})",
                list(ids),
            )
        }
        return [
            Entry(str(i), found[i][1] or b"", producer_id(found[i][2]))
            if i in found
            else Entry(str(i), b"")
            for i in ids
        ]

    def read(
        self, source: str, group: str, consumer: str, count: int, block_ms: int, own: bool
    ) -> list[Entry]:
        deadline = time.monotonic() + block_ms / 1000
        while True:
            with self._tx() as c:
                c.execute(
                    "UPDATE potluck_stream_consumers SET seen_at = ? WHERE source = ? AND grp = ? "
                    "AND consumer = ?",
                    (time.time(), source, group, consumer),
                )
                if own:
                    ids = [
                        r[0]
                        for r in c.execute(
                            "SELECT id FROM potluck_stream_pending WHERE source = ? AND grp = ? "
                            "AND consumer = ? ORDER BY id LIMIT ?",
                            (source, group, consumer, count),
                        )
                    ]
                    return self._entries(c, source, ids)
                (delivered,) = c.execute(
                    "SELECT delivered FROM potluck_stream_groups WHERE source = ? AND grp = ?",
                    (source, group),
                ).fetchone()
                ids = [
                    r[0]
                    for r in c.execute(
                        "SELECT id FROM potluck_stream_log WHERE source = ? AND id > ? "
                        "ORDER BY id LIMIT ?",
                        (source, delivered, count),
                    )
                ]
                if ids:
                    now = time.time()
                    c.executemany(
                        "INSERT INTO potluck_stream_pending VALUES (?, ?, ?, ?, ?)",
                        [(source, group, i, consumer, now) for i in ids],
                    )
                    c.execute(
                        "UPDATE potluck_stream_groups SET delivered = ? WHERE source = ? AND grp = ?",
                        (ids[-1], source, group),
                    )
                    return self._entries(c, source, ids)
            if time.monotonic() >= deadline:
                return []
            time.sleep(0.005)

    def claim(
        self, source: str, group: str, consumer: str, min_idle_ms: int, count: int
    ) -> list[Entry]:
        before = time.time() - min_idle_ms / 1000
        with self._tx() as c:
            rows = c.execute(
                "SELECT id, consumer FROM potluck_stream_pending WHERE source = ? AND grp = ? "
                "AND consumer != ? AND delivered_at <= ? ORDER BY id LIMIT ?",
                (source, group, consumer, before, count),
            ).fetchall()
            if not rows:
                return []
            for owner in {r[1] for r in rows}:  # fenced: their commits now fail
                c.execute(
                    "UPDATE potluck_stream_consumers SET revoked = 1 WHERE source = ? AND grp = ? "
                    "AND consumer = ?",
                    (source, group, owner),
                )
            ids = [r[0] for r in rows]
            c.execute(
                f"UPDATE potluck_stream_pending SET consumer = ?, delivered_at = ? WHERE source = ? "
                f"AND grp = ? AND id IN ({_marks(len(ids))})",
                [consumer, time.time(), source, group, *ids],
            )
            return self._entries(c, source, ids)

    def commit(
        self,
        source: str,
        group: str,
        consumer: str,
        ids: Sequence[str],
        reads: Reads,
        compute: Compute,
    ) -> Writes:
        ints = [int(i) for i in ids]
        with self._tx() as c:
            lock = self._get(c, source, "lock")
            if lock is not None:
                holder, until = json.loads(lock)
                if holder != consumer and until > time.time():
                    raise Locked(f"source '{source}' is locked by {holder}")
            revoked = c.execute(
                "SELECT revoked FROM potluck_stream_consumers WHERE source = ? AND grp = ? "
                "AND consumer = ?",
                (source, group, consumer),
            ).fetchone()
            (mine,) = (
                c.execute(
                    f"SELECT count(*) FROM potluck_stream_pending WHERE source = ? AND grp = ? "
                    f"AND consumer = ? AND id IN ({_marks(len(ints))})",
                    [source, group, consumer, *ints],
                ).fetchone()
                if ints
                else (0,)
            )
            if revoked is None or revoked[0] or mine != len(set(ints)):
                raise Fenced(f"consumer {consumer} no longer owns its entries")
            snapshot = self._snapshot(c, source, reads)
            writes = compute(snapshot)
            self._apply(c, source, group, consumer, ints, reads, writes)
        return writes

    def _snapshot(self, c: sqlite3.Connection, source: str, reads: Reads) -> Snapshot:
        states: dict[str, dict[bytes, bytes | None]] = {}
        for view, keys in reads.windowed.items():
            found: dict[bytes, bytes] = {}
            for lo in range(0, len(keys), 500):
                part = keys[lo : lo + 500]
                found.update(
                    c.execute(
                        f"SELECT entity_key, state FROM potluck_window_states WHERE project = ? "
                        f"AND view = ? AND entity_key IN ({_marks(len(part))})",
                        [self.project, view, *part],
                    ).fetchall()
                )
            states[view] = {k: found.get(k) for k in keys}
        latest: dict[str, dict[bytes, int | None]] = {}
        for view, (_, keys) in reads.latest.items():
            got: dict[bytes, int] = {}
            for lo in range(0, len(keys), 500):
                part = keys[lo : lo + 500]
                got.update(
                    c.execute(
                        f"SELECT entity_key, ts FROM potluck_stream_latest WHERE view = ? "
                        f"AND entity_key IN ({_marks(len(part))})",
                        [view, *part],
                    ).fetchall()
                )
            latest[view] = {k: got.get(k) for k in keys}
        seen: set[str] = set()
        now = time.time()
        for lo in range(0, len(reads.event_ids), 500):
            ids = reads.event_ids[lo : lo + 500]
            seen |= {
                r[0]
                for r in c.execute(
                    f"SELECT event_id FROM potluck_stream_eids WHERE source = ? AND expires > ? "
                    f"AND event_id IN ({_marks(len(ids))})",
                    [source, now, *ids],
                )
            }
        wm = self._get(c, source, "watermark")
        return Snapshot(
            states, latest, seen, self._anchors(c, source), None if wm is None else int(wm)
        )

    def _apply(
        self,
        c: sqlite3.Connection,
        source: str,
        group: str,
        consumer: str,
        ids: list[int],
        reads: Reads,
        writes: Writes,
    ) -> None:
        now = time.time()
        for view, new in writes.states.items():
            c.executemany(
                "INSERT OR REPLACE INTO potluck_window_states VALUES (?, ?, ?, ?)",
                [(self.project, view, k, s) for k, s in new.items()],
            )
        for view, (keys, times, table) in writes.latest.items():
            if not keys:
                continue
            layout = reads.latest[view][0]
            self._writer.store_on(c, self._writer.encode(layout, table, "event_timestamp", None))
            c.executemany(
                "INSERT OR REPLACE INTO potluck_stream_latest VALUES (?, ?, ?)",
                [(view, k, t) for k, t in zip(keys, times, strict=True)],
            )
        if ids:
            c.execute(
                f"DELETE FROM potluck_stream_pending WHERE source = ? AND grp = ? "
                f"AND id IN ({_marks(len(ids))})",
                [source, group, *ids],
            )
        c.executemany(
            "INSERT OR REPLACE INTO potluck_stream_eids VALUES (?, ?, ?)",
            [(source, e, now + DEDUP_TTL_S) for e in writes.event_ids],
        )
        c.executemany(
            "INSERT INTO potluck_stream_dead (source, entry, reason, detail, data, at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(source, d.id, d.reason, d.detail, d.data, now) for d in writes.dead],
        )
        if writes.watermark is not None:
            old = self._get(c, source, "watermark")
            if old is None or int(old) < writes.watermark:
                self._put(c, source, "watermark", str(writes.watermark))
        counts = {
            "applied": writes.applied,
            "dead": len(writes.dead),
            "late": writes.late,
            "duplicates": writes.duplicates,
        }
        for name, n in counts.items():
            if n:
                c.execute(
                    "INSERT INTO potluck_stream_stats VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE "
                    "SET value = CAST(value AS INTEGER) + ?",
                    (source, group, name, str(n), n),
                )
        if ids:
            for name, value in (("last_id", str(max(ids))), ("committed_at", str(now))):
                c.execute(
                    "INSERT OR REPLACE INTO potluck_stream_stats VALUES (?, ?, ?, ?)",
                    (source, group, name, value),
                )
        if writes.applied and writes.rows is not None:
            c.execute(
                "INSERT INTO potluck_stream_outbox VALUES (?, ?, ?)",
                (source, f"{time.time_ns():020d}-{consumer}", to_ipc(writes.rows)),
            )

    def close(self) -> None:
        self._writer.close()
        self.conn.close()
