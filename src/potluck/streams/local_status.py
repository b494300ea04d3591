"""The local log's maintenance (locks, outbox, bookkeeping, window installs) and
inspection (``potluck stream status`` and ``dead-letters``)."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pyarrow as pa

from potluck.streams.log import GroupStatus, Locked, from_ipc, recent_rates

__all__ = ["LocalInspection"]


class LocalInspection:
    conn: sqlite3.Connection
    _lock: threading.RLock
    project: str

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:  # LocalLog's
        raise NotImplementedError

    # ------------------------------------------------------------------ maintenance
    def _get(self, c: sqlite3.Connection, source: str, key: str) -> str | None:
        row = c.execute(
            "SELECT value FROM potluck_stream_meta WHERE source = ? AND key = ?", (source, key)
        ).fetchone()
        return None if row is None else str(row[0])

    def _put(self, c: sqlite3.Connection, source: str, key: str, value: str | None) -> None:
        if value is None:
            c.execute("DELETE FROM potluck_stream_meta WHERE source = ? AND key = ?", (source, key))
        else:
            c.execute(
                "INSERT OR REPLACE INTO potluck_stream_meta VALUES (?, ?, ?)", (source, key, value)
            )

    def _anchors(self, c: sqlite3.Connection, source: str) -> dict[str, int]:
        text = self._get(c, source, "anchors")
        return {k: int(v) for k, v in json.loads(text).items()} if text else {}

    @contextmanager
    def locked(
        self, source: str, owner: str, ttl_s: float = 300.0, name: str = "lock"
    ) -> Iterator[None]:
        deadline = time.monotonic() + ttl_s
        while True:
            with self._tx() as c:
                held = self._get(c, source, name)
                free = held is None or json.loads(held)[1] < time.time()
                if free:
                    self._put(c, source, name, json.dumps([owner, time.time() + ttl_s]))
                    break
            if time.monotonic() > deadline:
                raise Locked(f"source '{source}' stayed locked")
            time.sleep(0.05)
        try:
            yield
        finally:
            with self._tx() as c:
                held = self._get(c, source, name)
                if held is not None and json.loads(held)[0] == owner:
                    self._put(c, source, name, None)

    def outbox(self, source: str) -> list[tuple[str, pa.Table]]:
        with self._lock:
            rows = self.conn.execute(
                "SELECT batch, rows FROM potluck_stream_outbox WHERE source = ? ORDER BY batch",
                (source,),
            ).fetchall()
        return [(b, from_ipc(r)) for b, r in rows]

    def outbox_done(self, source: str, batches: Sequence[str]) -> None:
        with self._tx() as c:
            c.executemany(
                "DELETE FROM potluck_stream_outbox WHERE source = ? AND batch = ?",
                [(source, b) for b in batches],
            )

    def meta(self, source: str, key: str) -> str | None:
        with self._lock:
            return self._get(self.conn, source, key)

    def set_meta(self, source: str, key: str, value: str | None) -> None:
        with self._tx() as c:
            self._put(c, source, key, value)

    def anchors(self, source: str) -> dict[str, int]:
        with self._lock:
            return self._anchors(self.conn, source)

    def install(
        self, source: str, anchors: Mapping[str, int], states: Mapping[str, Mapping[bytes, bytes]]
    ) -> None:
        with self._tx() as c:
            for view, new in states.items():
                c.execute(
                    "DELETE FROM potluck_window_states WHERE project = ? AND view = ?",
                    (self.project, view),
                )
                c.executemany(
                    "INSERT INTO potluck_window_states VALUES (?, ?, ?, ?)",
                    [(self.project, view, k, s) for k, s in new.items()],
                )
            merged = {**self._anchors(c, source), **anchors}
            self._put(c, source, "anchors", json.dumps(merged))
            c.executemany(  # the processor owns them now (see online.window_states)
                "INSERT OR REPLACE INTO potluck_window_owners VALUES (?, ?, ?)",
                [(self.project, view, source) for view in anchors],
            )

    def length(self, source: str) -> int:
        with self._lock:
            (n,) = self.conn.execute(
                "SELECT count(*) FROM potluck_stream_log WHERE source = ?", (source,)
            ).fetchone()
        return int(n)

    def trim(self, source: str, keep_s: float) -> int:
        with self._tx() as c:
            (floor,) = c.execute(
                "SELECT min(n) FROM (SELECT min(delivered) + 1 AS n FROM potluck_stream_groups "
                "WHERE source = ? UNION ALL SELECT min(id) FROM potluck_stream_pending "
                "WHERE source = ?)",
                (source, source),
            ).fetchone()
            if floor is None:
                return 0
            cur = c.execute(
                "DELETE FROM potluck_stream_log WHERE source = ? AND id < ? AND at < ?",
                (source, floor, time.time() - keep_s),
            )
            return int(cur.rowcount)

    def status(self, source: str) -> list[GroupStatus]:
        with self._lock:
            c = self.conn
            groups = c.execute(
                "SELECT grp, delivered FROM potluck_stream_groups WHERE source = ?", (source,)
            ).fetchall()
            out = []
            for group, delivered in groups:
                stats = dict(
                    c.execute(
                        "SELECT name, value FROM potluck_stream_stats WHERE source = ? AND grp = ?",
                        (source, group),
                    ).fetchall()
                )
                (pending,) = c.execute(
                    "SELECT count(*) FROM potluck_stream_pending WHERE source = ? AND grp = ?",
                    (source, group),
                ).fetchone()
                (lag,) = c.execute(
                    "SELECT count(*) FROM potluck_stream_log WHERE source = ? AND id > ?",
                    (source, delivered),
                ).fetchone()
                consumers = [
                    {"name": n, "pending": int(p), "idle_ms": int((time.time() - s) * 1000)}
                    for n, s, p in c.execute(
                        "SELECT c.consumer, c.seen_at, (SELECT count(*) FROM potluck_stream_pending p "
                        "WHERE p.source = c.source AND p.grp = c.grp AND p.consumer = c.consumer) "
                        "FROM potluck_stream_consumers c WHERE c.source = ? AND c.grp = ? AND c.revoked = 0",
                        (source, group),
                    )
                ]
                rates = recent_rates(stats)
                out.append(
                    GroupStatus(
                        group=group,
                        consumers=consumers,
                        pending=int(pending),
                        lag=int(lag),
                        last_committed=stats.get("last_id"),
                        committed_at=float(stats["committed_at"])
                        if "committed_at" in stats
                        else None,
                        applied=int(stats.get("applied", 0)),
                        dead=int(stats.get("dead", 0)),
                        late=int(stats.get("late", 0)),
                        duplicates=int(stats.get("duplicates", 0)),
                        events_per_s=sum(rates) if rates else None,
                    )
                )
        return out

    def report_rate(self, source: str, group: str, consumer: str, rate: float) -> None:
        with self._tx() as c:
            c.execute(
                "INSERT OR REPLACE INTO potluck_stream_stats VALUES (?, ?, ?, ?)",
                (source, group, f"rate:{consumer}", f"{rate:.1f}@{time.time():.0f}"),
            )

    def dead_letters(self, source: str, count: int) -> list[dict[str, Any]]:
        with self._lock:
            rows = self.conn.execute(
                "SELECT n, entry, reason, detail, data FROM potluck_stream_dead WHERE source = ? "
                "ORDER BY n DESC LIMIT ?",
                (source, count),
            ).fetchall()
        return [
            {
                "id": str(n),
                "entry": e,
                "reason": r,
                "detail": d,
                "data": bytes(b).decode(errors="replace"),
            }
            for n, e, r, d, b in rows
        ]
