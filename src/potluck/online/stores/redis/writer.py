"""Bulk writes into Feast's Redis online store, one Lua script call per batch.

Writes keep Feast's rule -- a row is skipped when the hash already holds an
event time at or after its own -- but check and write in one script call per
batch of entities, atomically and in one round trip, instead of an HMGET round
trip followed by HSETs. The batch is packed into RESP with Arrow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from feast.repo_config import RepoConfig
from redis.exceptions import NoScriptError

from potluck.errors import SourceError
from potluck.online._wire import encode_entity_keys, encode_timestamps, encode_values, epoch_micros
from potluck.online.stores.base import Encoded, OnlineWriter, ViewLayout
from potluck.online.stores.redis._common import (
    buffer,
    bulk,
    bulk_one,
    decimal,
    field_names,
    redis_client,
    redis_errors,
    repeat,
    roundtrip,
)

__all__ = ["WRITE_SCRIPT", "RedisWriter"]

_KEYS_PER_SCRIPT = 500


@dataclass(frozen=True)
class _RedisBatch(Encoded):
    """EVALSHA commands in RESP, ``replies`` of them, ready to send."""

    rows: int
    payload: bytes
    replies: int


# Newer wins (the stream processor's commits use it too). ARGV: ts field, dedup flag,
# key TTL, arguments per key; then per key: seconds, nanos,
# and the HSET arguments as they are (ts field, timestamp bytes, field, value, ...), so
# the script hands a slice of ARGV to HSET without building a table per key.
WRITE_SCRIPT = """
local function varint(s, pos)
  local value, scale = 0, 1
  while true do
    local b = string.byte(s, pos)
    pos = pos + 1
    value = value + (b % 128) * scale
    if b < 128 then return value, pos end
    scale = scale * 128
  end
end
local function seconds_nanos(s)
  local sec, nanos, pos = 0, 0, 1
  while pos <= #s do
    local tag = string.byte(s, pos)
    local v
    v, pos = varint(s, pos + 1)
    if tag == 8 then sec = v elseif tag == 16 then nanos = v end
  end
  if sec >= 9223372036854775808 then sec = sec - 18446744073709551616 end
  return sec, nanos
end
local ts_field, dedup = ARGV[1], ARGV[2] == '1'
local ttl, stride = tonumber(ARGV[3]), tonumber(ARGV[4])
local written = 0
for i, key in ipairs(KEYS) do
  local at = 4 + (i - 1) * stride
  local write = true
  if dedup then
    local old = redis.call('HGET', key, ts_field)
    if old then
      local s, n = seconds_nanos(old)
      local new_s, new_n = tonumber(ARGV[at + 1]), tonumber(ARGV[at + 2])
      if (s ~= 0 or n ~= 0) and (s > new_s or (s == new_s and n >= new_n)) then
        write = false
      end
    end
  end
  if write then
    redis.call('HSET', key, unpack(ARGV, at + 3, at + stride))
    if ttl > 0 then redis.call('EXPIRE', key, ttl) end
    written = written + 1
  end
end
return written
"""


class RedisWriter(OnlineWriter):
    def __init__(self, config: RepoConfig) -> None:
        store = config.online_store
        self.client = redis_client(config)
        self.dedup = not bool(getattr(store, "skip_dedup", False))
        self.ttl = int(getattr(store, "key_ttl_seconds", None) or 0)
        try:
            self.sha: str = self.client.script_load(WRITE_SCRIPT)
        except redis_errors() as exc:
            raise SourceError("online store", "redis", f"{type(exc).__name__}: {exc}") from None

    def encode(
        self, layout: ViewLayout, rows: pa.Table, timestamp: str, created: str | None
    ) -> Encoded:
        n = rows.num_rows
        if n == 0:
            return _RedisBatch(rows=0, payload=b"", replies=0)
        keys = encode_entity_keys({k: rows[k] for k in layout.join_keys}, layout.join_keys)
        keys = pc.binary_join_element_wise(keys, layout.project.encode(), b"")
        micros, _ = epoch_micros(rows[timestamp])
        ts_field = f"_ts:{layout.stored_name}".encode()
        fields = field_names(layout, list(layout.features))
        # per key, in order: seconds, nanos, then HSET's arguments
        columns = [
            decimal(np.floor_divide(micros, 1_000_000)),
            decimal(np.mod(micros, 1_000_000) * 1000),
            repeat(ts_field, n),
            encode_timestamps(micros),
        ]
        for field, (name, value_type) in zip(fields, layout.features.items(), strict=True):
            columns += [repeat(field, n), encode_values(rows[name], value_type)]
        stride = len(columns)
        order = (np.arange(stride)[None, :] * n + np.arange(n)[:, None]).ravel()
        per_key, per_key_offsets = buffer(bulk(pa.concat_arrays(columns)).take(order))
        key_bytes, key_offsets = buffer(bulk(keys))
        fixed = b"".join(
            bulk_one(a)
            for a in (ts_field, b"1" if self.dedup else b"0", b"%d" % self.ttl, b"%d" % stride)
        )
        commands = []
        for lo in range(0, n, _KEYS_PER_SCRIPT):
            hi = min(n, lo + _KEYS_PER_SCRIPT)
            count = hi - lo
            header = b"*%d\r\n$7\r\nEVALSHA\r\n$40\r\n%s\r\n%s" % (
                3 + count + 4 + count * stride,
                self.sha.encode(),
                bulk_one(b"%d" % count),
            )
            commands += [
                header,
                key_bytes[key_offsets[lo] : key_offsets[hi]],
                fixed,
                per_key[per_key_offsets[lo * stride] : per_key_offsets[hi * stride]],
            ]
        return _RedisBatch(rows=n, payload=b"".join(commands), replies=-(-n // _KEYS_PER_SCRIPT))

    def store(self, encoded: Encoded) -> int:
        assert isinstance(encoded, _RedisBatch)
        if encoded.rows:
            self._send(encoded.payload, encoded.replies)
        return encoded.rows

    def _send(self, payload: bytes, replies: int, retry: bool = True) -> None:
        failures = [r for r in roundtrip(self.client, payload, replies) if isinstance(r, Exception)]
        if failures and retry and all(isinstance(f, NoScriptError) for f in failures):
            # the server lost its scripts (restart, SCRIPT FLUSH): load it again (same
            # SHA1) and resend -- rewriting the same rows is idempotent
            self.client.script_load(WRITE_SCRIPT)
            return self._send(payload, replies, retry=False)
        if failures:
            raise SourceError("online store", "redis", f"write failed: {failures[0]}")
        return None
