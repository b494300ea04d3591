"""What the Redis writer and reader share: Feast's key and field names, and RESP.

Layout (Feast's ``RedisOnlineStore``, entity key serialization v3): one hash per
entity, keyed by the serialized entity key followed by the project name; per
view a field ``_ts:{view}`` holding a ``google.protobuf.Timestamp`` and one
field per feature named by the 4-byte murmur3 hash of ``{view}:{feature}``.
Commands are packed into the Redis protocol (RESP) here and sent on a raw
connection: no per-argument Python work in redis-py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from feast.repo_config import RepoConfig

from potluck.errors import ConfigurationError, SourceError
from potluck.online.stores.base import ViewLayout

__all__ = [
    "buffer",
    "bulk",
    "bulk_one",
    "decimal",
    "field_names",
    "redis_client",
    "redis_errors",
    "repeat",
    "roundtrip",
]


def redis_client(config: RepoConfig) -> Any:
    """The same client Feast builds from ``online_store.connection_string``."""
    from feast.infra.online_stores.redis import RedisOnlineStore, RedisType

    store = config.online_store
    if getattr(store, "redis_type", RedisType.redis) == RedisType.redis_cluster:
        raise ConfigurationError("fast online reads/writes do not support Redis Cluster")
    return RedisOnlineStore()._get_client(store)


def field_names(layout: ViewLayout, features: Sequence[str]) -> list[bytes]:
    from feast.infra.online_stores.helpers import _mmh3

    return [_mmh3(f"{layout.stored_name}:{name}") for name in features]


def bulk(values: pa.Array) -> pa.Array:
    """Each value as a RESP bulk string: ``$<len>\\r\\n<bytes>\\r\\n``."""
    lengths = pc.binary_length(values).cast(pa.string()).cast(pa.binary())
    return pc.binary_join_element_wise(b"$", lengths, b"\r\n", values, b"\r\n", b"")


def bulk_one(value: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(value), value)


def decimal(values: np.ndarray) -> pa.Array:
    return pa.array(values).cast(pa.string()).cast(pa.binary())


def repeat(value: bytes, n: int) -> pa.Array:
    return pa.array([value], pa.binary()).take(np.zeros(n, dtype=np.int64))


def buffer(array: pa.Array) -> tuple[bytes, np.ndarray]:
    """(data bytes, offsets) of a binary array, for slicing runs of elements."""
    array = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int32)[
        array.offset : array.offset + len(array) + 1
    ]
    data = array.buffers()[2]
    return (data.to_pybytes() if data is not None else b""), offsets


def redis_errors() -> tuple[type[BaseException], ...]:
    """What redis-py raises for a failed connection or command."""
    import redis

    return (redis.RedisError, OSError)


def roundtrip(client: Any, payload: bytes, replies: int) -> list[Any]:
    """Send packed commands on one pooled connection and read ``replies`` replies;
    error replies come back as exception objects, connection failures raise."""
    import redis

    pool = client.connection_pool
    conn = pool.get_connection()
    out: list[Any] = []
    try:
        conn.send_packed_command([payload])
        for _ in range(replies):
            try:
                out.append(conn.read_response())
            except redis.ResponseError as exc:  # read every reply before acting
                out.append(exc)
    except redis_errors() as exc:
        conn.disconnect()
        raise SourceError("online store", "redis", f"{type(exc).__name__}: {exc}") from None
    finally:
        pool.release(conn)
    return out
