"""Fast backends of the online store, one module per Feast store type (sqlite, redis).

:func:`open_writer` / :func:`open_reader` return None for a store (or a store
option) with no fast backend; callers then go through Feast itself.
"""

from __future__ import annotations

from feast.repo_config import RepoConfig

from potluck.errors import ConfigurationError
from potluck.online.stores.base import OnlineReader, OnlineWriter, ViewLayout, ViewRead, layout_of

__all__ = [
    "OnlineReader",
    "OnlineWriter",
    "ViewLayout",
    "ViewRead",
    "layout_of",
    "open_reader",
    "open_writer",
    "store_kind",
]


def store_kind(config: RepoConfig) -> str | None:
    """``sqlite`` or ``redis`` when a fast backend serves this config, else None."""
    kind = str(config.online_store.type)
    if config.entity_key_serialization_version != 3:
        return None
    if kind in ("sqlite", "feast.infra.online_stores.sqlite.SqliteOnlineStore"):
        return "sqlite"
    if kind in ("redis", "feast.infra.online_stores.redis.RedisOnlineStore"):
        return "redis"
    return None


def open_writer(config: RepoConfig) -> OnlineWriter | None:
    try:
        if store_kind(config) == "sqlite":
            from potluck.online.stores.sqlite import SqliteWriter

            return SqliteWriter(config)
        if store_kind(config) == "redis":
            from potluck.online.stores.redis import RedisWriter

            return RedisWriter(config)
    except ConfigurationError:
        return None  # an option only Feast's own store implements
    return None


def open_reader(config: RepoConfig) -> OnlineReader | None:
    try:
        if store_kind(config) == "sqlite":
            from potluck.online.stores.sqlite import SqliteReader

            return SqliteReader(config)
        if store_kind(config) == "redis":
            from potluck.online.stores.redis import RedisReader

            return RedisReader(config)
    except ConfigurationError:
        return None
    return None
