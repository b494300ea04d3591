"""Inspection of the Redis log: ``potluck stream status`` and ``dead-letters``."""

from __future__ import annotations

import time
from typing import Any

from potluck.streams.log import GroupStatus, recent_rates

__all__ = ["RedisInspection"]


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _ms(entry_id: str) -> int:
    return int(entry_id.split("-")[0])


class RedisInspection:
    client: Any

    def _b(self, source: str) -> str:  # RedisLog's
        raise NotImplementedError

    def length(self, source: str) -> int:
        return int(self.client.xlen(self._b(source)))

    def trim(self, source: str, keep_s: float) -> int:
        import redis

        b = self._b(source)
        try:
            groups = self.client.xinfo_groups(b)
        except redis.ResponseError:
            return 0
        floor = int((time.time() - keep_s) * 1000)  # entry ids start with their ms
        for g in groups:
            needed = [_ms(_s(g["last-delivered-id"])) + 1]
            if int(g["pending"]):
                oldest = self.client.xpending(b, _s(g["name"]))["min"]
                needed.append(_ms(_s(oldest)))
            floor = min(floor, *needed)
        if not groups or floor <= 0:
            return 0
        return int(self.client.xtrim(b, minid=f"{floor}-0"))

    def status(self, source: str) -> list[GroupStatus]:
        import redis

        b = self._b(source)
        try:
            groups = self.client.xinfo_groups(b)
        except redis.ResponseError:  # no stream yet
            return []
        out = []
        for g in groups:
            name = _s(g["name"])
            stats = {_s(k): _s(v) for k, v in self.client.hgetall(f"{b}:stats:{name}").items()}
            consumers = [
                {"name": _s(c["name"]), "pending": int(c["pending"]), "idle_ms": int(c["idle"])}
                for c in self.client.xinfo_consumers(b, name)
            ]
            rates = recent_rates(stats)
            lag = g.get("lag")
            out.append(
                GroupStatus(
                    group=name,
                    consumers=consumers,
                    pending=int(g["pending"]),
                    lag=None if lag is None else int(lag),
                    last_committed=stats.get("last_id"),
                    committed_at=float(stats["committed_at"]) if "committed_at" in stats else None,
                    applied=int(stats.get("applied", 0)),
                    dead=int(stats.get("dead", 0)),
                    late=int(stats.get("late", 0)),
                    duplicates=int(stats.get("duplicates", 0)),
                    events_per_s=sum(rates) if rates else None,
                )
            )
        return out

    def report_rate(self, source: str, group: str, consumer: str, rate: float) -> None:
        self.client.hset(
            f"{self._b(source)}:stats:{group}", f"rate:{consumer}", f"{rate:.1f}@{time.time():.0f}"
        )

    def dead_letters(self, source: str, count: int) -> list[dict[str, Any]]:
        rows = self.client.xrevrange(f"{self._b(source)}:dead", count=count)
        return [
            {
                "id": _s(i),
                **{
                    _s(k): _s(v) if k != b"data" else v.decode(errors="replace")
                    for k, v in f.items()
                },
            }
            for i, f in rows
        ]
