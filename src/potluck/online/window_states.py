"""Where window features live online: one state blob per (view, entity key).

The blobs are :mod:`potluck.windows.online` states, stored beside Feast's own rows in
the same online store: a ``potluck_window_states`` table (WITHOUT ROWID) in the SQLite
file, or ``potluck:win:{project}:{view}:`` + the entity key (Feast's v3 serialization)
in Redis. Batch materialization writes them; a stream processor replaces them with
``update_state``'s result; reads evaluate them at the request time.

**Owner.** Once a stream processor has installed a view's states (re-anchoring) it owns
them, recorded beside them (``potluck:win-owner:{project}:{view}`` in Redis, a row of
``potluck_window_owners`` in SQLite) in the install's own transaction: batch
materialization then leaves those states alone. It builds from the offline table, which
lacks the events still in the processor's outbox, and would overwrite states the
processor updates meanwhile. ``potluck stream release`` hands them back.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from potluck.errors import ConfigurationError, SourceError, StatesOwnedError

if TYPE_CHECKING:
    from feast.repo_config import RepoConfig

__all__ = ["OWNERS_DDL", "WindowStateStore", "open_state_store", "owner_key", "state_prefix"]

_TABLE = "potluck_window_states"
_OWNERS = "potluck_window_owners"
OWNERS_DDL = (
    f"CREATE TABLE IF NOT EXISTS {_OWNERS} (project TEXT NOT NULL, view TEXT NOT NULL, "
    "owner TEXT NOT NULL, PRIMARY KEY (project, view)) WITHOUT ROWID"
)


def state_prefix(project: str, view: str) -> bytes:
    """The Redis key prefix of ``view``'s states (the entity key follows)."""
    return f"potluck:win:{project}:{view}:".encode()


def owner_key(project: str, view: str) -> bytes:
    """The Redis key naming who owns ``view``'s states (not under the states' prefix)."""
    return f"potluck:win-owner:{project}:{view}".encode()


class WindowStateStore:
    """Read and write state blobs of one online store (SQLite or Redis)."""

    def __init__(self, config: RepoConfig, kind: str) -> None:
        self.project = config.project
        self.kind = kind
        self._lock = threading.Lock()
        if kind == "sqlite":
            from potluck.online.stores.sqlite._common import connect, sqlite_path

            self._conn: Any = connect(sqlite_path(config))
            self._conn.execute(
                f"CREATE TABLE IF NOT EXISTS {_TABLE} (project TEXT NOT NULL, view TEXT NOT NULL, "
                "entity_key BLOB NOT NULL, state BLOB NOT NULL, "
                "PRIMARY KEY (project, view, entity_key)) WITHOUT ROWID"
            )
            self._conn.execute(OWNERS_DDL)
        else:
            from potluck.online.stores.redis._common import redis_client

            self._client: Any = redis_client(config)

    def write(self, view: str, states: Mapping[bytes, bytes]) -> int:
        """Upsert ``entity key -> state``; returns how many. Refused whole with
        :class:`StatesOwnedError` when a stream processor owns the view's states: the
        owner is checked in the write's own transaction (a processor's install between
        a check and the write would otherwise be overwritten)."""
        if not states:
            return 0
        try:
            if self.kind == "sqlite":
                self._write_sqlite(view, states)
            else:
                self._write_redis(view, states)
        except StatesOwnedError:
            raise
        except Exception as exc:  # the driver's error, named at the boundary
            raise SourceError(
                view, f"{self.kind} online store", f"{type(exc).__name__}: {exc}"
            ) from None
        return len(states)

    def _write_sqlite(self, view: str, states: Mapping[bytes, bytes]) -> None:
        rows = [(self.project, view, k, v) for k, v in states.items()]
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")  # the owner cannot change before COMMIT
            try:
                owner = self._sqlite_owner(view)
                if owner is not None:
                    raise StatesOwnedError(view, owner)
                self._conn.executemany(f"INSERT OR REPLACE INTO {_TABLE} VALUES (?, ?, ?, ?)", rows)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _write_redis(self, view: str, states: Mapping[bytes, bytes]) -> None:
        import redis

        prefix, owned = state_prefix(self.project, view), owner_key(self.project, view)
        while True:
            with self._client.pipeline(transaction=True) as pipe:
                try:
                    pipe.watch(owned)  # an install sets it in its own MULTI: this aborts
                    owner = pipe.get(owned)
                    if owner is not None:
                        raise StatesOwnedError(view, bytes(owner).decode())
                    pipe.multi()
                    pipe.mset({prefix + k: s for k, s in states.items()})
                    pipe.execute()
                    return
                except redis.WatchError:
                    continue  # look at the owner again

    def read(self, view: str, keys: Sequence[bytes]) -> list[bytes | None]:
        """The state of each key (None for a key without one), in order."""
        if not keys:
            return []
        try:
            if self.kind == "sqlite":
                marks = ",".join("?" * len(keys))
                with self._lock:
                    found = dict(
                        self._conn.execute(
                            f"SELECT entity_key, state FROM {_TABLE} WHERE project = ? AND view = ? "
                            f"AND entity_key IN ({marks})",
                            (self.project, view, *keys),
                        ).fetchall()
                    )
                return [found.get(k) for k in keys]
            from potluck.online.stores.redis._common import roundtrip

            # packed by hand on one pooled connection, as the latest-value reader does:
            # redis-py's command machinery cost more than the round trip for one key
            prefix = state_prefix(self.project, view)
            args = [b"MGET", *(prefix + k for k in keys)]
            payload = b"*%d\r\n" % len(args) + b"".join(
                b"$%d\r\n%s\r\n" % (len(a), a) for a in args
            )
            (reply,) = roundtrip(self._client, payload, 1)
            if isinstance(reply, Exception):
                raise reply
            return list(reply)
        except Exception as exc:
            raise SourceError(
                view, f"{self.kind} online store", f"{type(exc).__name__}: {exc}"
            ) from None

    def owner(self, view: str) -> str | None:
        """The stream source whose processor owns ``view``'s states, or None."""
        try:
            if self.kind == "sqlite":
                with self._lock:
                    return self._sqlite_owner(view)
            raw = self._client.get(owner_key(self.project, view))
            return None if raw is None else bytes(raw).decode()
        except Exception as exc:
            raise SourceError(
                view, f"{self.kind} online store", f"{type(exc).__name__}: {exc}"
            ) from None

    def _sqlite_owner(self, view: str) -> str | None:  # the caller holds self._lock
        row = self._conn.execute(
            f"SELECT owner FROM {_OWNERS} WHERE project = ? AND view = ?", (self.project, view)
        ).fetchone()
        return None if row is None else str(row[0])

    def release(self, views: Sequence[str]) -> None:
        """Forget the owner of ``views``: batch materialization writes them again."""
        try:
            if self.kind == "sqlite":
                with self._lock:
                    self._conn.executemany(
                        f"DELETE FROM {_OWNERS} WHERE project = ? AND view = ?",
                        [(self.project, v) for v in views],
                    )
            elif views:
                self._client.delete(*(owner_key(self.project, v) for v in views))
        except Exception as exc:
            raise SourceError(
                ", ".join(views), f"{self.kind} online store", f"{type(exc).__name__}: {exc}"
            ) from None

    def close(self) -> None:
        if self.kind == "sqlite":
            self._conn.close()


def open_state_store(config: RepoConfig) -> WindowStateStore:
    from potluck.online.stores import store_kind

    kind = store_kind(config)
    if kind is None:
        raise ConfigurationError(
            f"window features online need the SQLite or Redis online store, not "
            f"{config.online_store.type}"
        )
    return WindowStateStore(config, kind)
