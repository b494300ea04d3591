"""Reads of Feast's Redis online store: every requested view of a batch in one round trip.

The views of one entity share its hash, so one HMGET per entity covers them
all (Feast sends one per entity *and* view). One entity is a plain HMGET; a
batch is one call of a read-only script that runs the HMGETs server-side and
returns every reply in one array -- one reply to parse instead of one per
entity, and the field list sent once instead of once per entity.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from feast.repo_config import RepoConfig
from google.protobuf.timestamp_pb2 import Timestamp
from redis.exceptions import NoScriptError

from potluck.errors import SourceError
from potluck.online.stores.base import OnlineReader, ViewLayout, ViewRead
from potluck.online.stores.redis._common import (
    bulk_one,
    field_names,
    redis_client,
    redis_errors,
    roundtrip,
)

__all__ = ["RedisReader"]

_READ_SCRIPT = """
local out = {}
for i, key in ipairs(KEYS) do
  out[i] = redis.call('HMGET', key, unpack(ARGV))
end
return out
"""
_MEMO_LIMIT = 1 << 16
_MISSING = object()


class _Plan:
    """The packed fields of one set of views, and where each view's fields start."""

    def __init__(self, views: Sequence[tuple[ViewLayout, Sequence[str]]]) -> None:
        fields: list[bytes] = []
        self.starts: list[int] = []
        for layout, features in views:
            self.starts.append(len(fields))
            fields += [*field_names(layout, features), f"_ts:{layout.stored_name}".encode()]
        self.starts.append(len(fields))
        self.count = len(fields)
        self.packed = b"".join(bulk_one(f) for f in fields)
        self.hmget = b"*%d\r\n$5\r\nHMGET\r\n" % (self.count + 2)


class RedisReader(OnlineReader):
    def __init__(self, config: RepoConfig) -> None:
        self.client = redis_client(config)
        self.project = config.project.encode()
        self._plans: dict[tuple[tuple[str, tuple[str, ...]], ...], _Plan] = {}
        self._sha = ""
        self._seconds: dict[bytes | None, int] = {None: 0, b"": 0}

    def _plan(self, views: Sequence[tuple[ViewLayout, Sequence[str]]]) -> _Plan:
        key = tuple((layout.name, tuple(features)) for layout, features in views)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = _Plan(views)
        return plan

    def _batch(self, plan: _Plan, keys: list[bytes], retry: bool = True) -> list[Any]:
        if not self._sha:
            try:
                self._sha = str(self.client.script_load(_READ_SCRIPT))
            except redis_errors() as exc:
                detail = f"{type(exc).__name__}: {exc}"
                raise SourceError("online store", "redis", detail) from None
        head = b"*%d\r\n$7\r\nEVALSHA\r\n$40\r\n%s\r\n%s" % (
            3 + len(keys) + plan.count,
            self._sha.encode(),
            bulk_one(b"%d" % len(keys)),
        )
        (reply,) = roundtrip(self.client, b"".join([head, *map(bulk_one, keys), plan.packed]), 1)
        if isinstance(reply, Exception):
            if retry and isinstance(reply, NoScriptError):  # scripts flushed: load again
                self._sha = ""
                return self._batch(plan, keys, retry=False)
            raise SourceError("online store", "redis", f"read failed: {reply}")
        return list(reply)

    def _timestamps(self, raw: list[bytes | None]) -> list[int]:
        """Event seconds of ``_ts`` fields, parsed once per distinct value."""
        memo = self._seconds
        out: list[Any] = list(map(memo.get, raw, itertools.repeat(_MISSING)))
        for i, value in enumerate(out):
            if value is _MISSING:
                blob = raw[i]
                assert blob is not None
                seconds = int(Timestamp.FromString(blob).seconds)
                if len(memo) >= _MEMO_LIMIT:
                    memo.clear()
                    memo.update({None: 0, b"": 0})
                memo[blob] = out[i] = seconds
        return out

    def read(
        self,
        views: Sequence[tuple[ViewLayout, Sequence[str]]],
        entity_keys: Sequence[bytes],
    ) -> list[ViewRead]:
        plan = self._plan(views)
        keys = [key + self.project for key in entity_keys]
        if len(keys) == 1:
            payload = plan.hmget + bulk_one(keys[0]) + plan.packed
            (reply,) = roundtrip(self.client, payload, 1)
            if isinstance(reply, Exception):
                raise SourceError("online store", "redis", f"read failed: {reply}")
            replies = [reply]
        else:
            replies = self._batch(plan, keys)
        out = []
        starts = plan.starts
        for v, (_, features) in enumerate(views):
            lo, ts = starts[v], starts[v + 1] - 1
            values = {name: [r[lo + j] for r in replies] for j, name in enumerate(features)}
            out.append(ViewRead(self._timestamps([r[ts] for r in replies]), values))
        return out
