"""Which event log serves a repo: the one that lives in its online store."""

from __future__ import annotations

from typing import TYPE_CHECKING

from potluck.streams.log import EventLog

if TYPE_CHECKING:
    from potluck.features.repo import FeatureRepo

__all__ = ["open_log"]


def open_log(repo: FeatureRepo) -> EventLog:
    """The log of ``repo``'s online store (Redis Streams, or the local SQLite log)."""
    from potluck.errors import ConfigurationError
    from potluck.online.stores import store_kind

    kind = store_kind(repo.config)
    if kind == "redis":
        from potluck.streams.redis_log import RedisLog

        return RedisLog(repo.config)
    if kind == "sqlite":
        from potluck.streams.local_log import LocalLog

        return LocalLog(repo.config)
    raise ConfigurationError(
        f"streams need the SQLite or Redis online store, not {repo.config.online_store.type}"
    )
