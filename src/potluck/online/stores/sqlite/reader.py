"""Reads of Feast's SQLite online store: every requested view in one statement."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence

from feast.repo_config import RepoConfig

from potluck.errors import SourceError
from potluck.online.stores.base import OnlineReader, ViewLayout, ViewRead
from potluck.online.stores.sqlite._common import (
    LOCAL_IS_UTC,
    literal,
    read_seconds,
    sqlite_path,
    table_name,
    text_seconds,
)

__all__ = ["SqliteReader"]


class SqliteReader(OnlineReader):
    """One ``UNION ALL`` statement over the requested views' tables per read."""

    def __init__(self, config: RepoConfig) -> None:
        self.path = sqlite_path(config)
        self._local = threading.local()
        self._sql: dict[tuple[tuple[tuple[str, ...], ...], int], str] = {}

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=60, cached_statements=512)
            self._local.conn = conn
        return conn

    def _statement(self, views: Sequence[tuple[ViewLayout, Sequence[str]]], n: int) -> str:
        key = (tuple((layout.name, *features) for layout, features in views), n)
        sql = self._sql.get(key)
        if sql is None:
            params = ",".join(f"?{i + 1}" for i in range(n))
            where = "entity_key = ?1" if n == 1 else f"entity_key IN ({params})"
            # only the requested features: point lookups on the (entity_key, feature_name) key
            sql = " UNION ALL ".join(
                f"SELECT {i}, entity_key, feature_name, value, event_ts FROM {table_name(layout)} "
                f"WHERE {where} AND feature_name IN ({','.join(map(literal, features))})"
                for i, (layout, features) in enumerate(views)
            )
            self._sql[key] = sql
        return sql

    def read(
        self,
        views: Sequence[tuple[ViewLayout, Sequence[str]]],
        entity_keys: Sequence[bytes],
    ) -> list[ViewRead]:
        n = len(entity_keys)
        position = {key: i for i, key in enumerate(entity_keys)}
        out = [ViewRead([0] * n, {name: [None] * n for name in features}) for _, features in views]
        try:
            rows = self._conn().execute(self._statement(views, n), list(entity_keys)).fetchall()
        except sqlite3.Error as exc:
            raise SourceError("online store", "sqlite", f"{self.path}: {exc}") from None
        utc = LOCAL_IS_UTC
        for view, key, feature, value, stored in rows:
            read = out[view]
            i = position[key]
            column = read.values.get(feature)
            if column is not None:
                column[i] = value
            if stored is not None:
                if isinstance(stored, str):  # Feast's own push writes a datetime's text
                    read.seconds[i] = text_seconds(stored)
                else:
                    read.seconds[i] = int(stored) if utc else read_seconds(stored)
        return out
