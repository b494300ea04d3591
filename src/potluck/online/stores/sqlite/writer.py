"""Bulk upserts into Feast's SQLite online store.

Rows are upserted (``ON CONFLICT DO UPDATE``) as Feast does, so a chunk written
twice leaves the same rows. Speed: one statement inserts many entities (all
their features; entity key and event time bound once per entity, feature names
as literals) and each batch is one transaction; rows arrive sorted by entity key
and feature name, the primary key's order, so SQLite appends to its B-trees.
The database is switched to WAL, so readers (Feast's and ours) are never
blocked by a running materialization.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from feast.repo_config import RepoConfig

from potluck.errors import SourceError
from potluck.online._wire import encode_entity_keys, encode_values, epoch_micros, value_texts
from potluck.online.stores.base import Encoded, OnlineWriter, ViewLayout
from potluck.online.stores.sqlite._common import (
    connect,
    create_view_table,
    literal,
    prepare_database,
    sqlite_path,
    stored_seconds,
    table_name,
)

__all__ = ["SqliteWriter"]

# Entities per INSERT statement (each carrying all its features). Every statement
# executed hands the GIL back and forth with the thread encoding the next batch; big
# statements mean few hand-offs (measured on 600k entity rows: 16 -> 8.8 s, 256 -> 7.7 s).
_ENTITIES_PER_STATEMENT = 256


@dataclass(frozen=True)
class _SqliteBatch(Encoded):
    """Bound parameters by statement size: ``groups[size]`` holds one parameter list per
    statement of ``size`` entities."""

    rows: int
    layout: ViewLayout
    groups: dict[int, list[list[Any]]]
    created: bool  # whether a created time is bound (else the statement says NULL)


def _statement_sizes(largest: int) -> list[int]:
    """Entities per statement, largest first: a batch is cut greedily into these, so
    a few cached statements serve every batch size (a statement compiled per leftover
    size costs more than it saves; one entity per statement hands the GIL over too often)."""
    sizes, size = [], largest
    while size > 1:
        sizes.append(size)
        size //= 8
    return [*sizes, 1]


class _Checkpointer:
    """PASSIVE checkpoints every ``every_s`` on its own connection and thread.

    A PASSIVE checkpoint never blocks the writer or readers: it copies what the
    WAL holds into the database while the writer keeps appending (the GIL is
    released while SQLite copies). The WAL then stays small although the
    writer's own automatic checkpoints are off."""

    def __init__(self, path: str, every_s: float = 0.25) -> None:
        self._stop = threading.Event()
        self._every = every_s
        self._thread = threading.Thread(
            target=self._loop, args=(path,), name="potluck-checkpoint", daemon=True
        )
        self._thread.start()

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        with contextlib.suppress(sqlite3.Error):  # busy now: the next round catches up
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def _loop(self, path: str) -> None:
        conn = connect(path)
        try:
            while not self._stop.wait(self._every):
                self._checkpoint(conn)
            self._checkpoint(conn)
        finally:
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


class SqliteWriter(OnlineWriter):
    def __init__(self, config: RepoConfig) -> None:
        self.path = sqlite_path(config)
        self.config = config
        prepare_database(self.path)
        # A compiled 256-entity statement takes about 3 MB; caching a view's four (plus
        # BEGIN/COMMIT) and letting finished views' go keeps peak memory from growing
        # with each view written (measured: 15-20 MB by the sixth view).
        self.conn = connect(self.path, cached_statements=8)
        self._max_variables = self.conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        # WAL: readers keep reading the last committed state while we write. (If another
        # connection holds a lock right now, the database stays in its current mode.)
        with contextlib.suppress(sqlite3.OperationalError):
            self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = NORMAL")
        # Checkpoints (copying the WAL into the database) run on a thread of their own
        # instead of inside our commits, so they overlap the next batch's inserts.
        self.conn.execute("PRAGMA wal_autocheckpoint = 0")
        self.conn.execute("PRAGMA cache_size = -8000")  # appends touch few pages
        self._checkpointer = _Checkpointer(self.path)
        self._statements: dict[tuple[str, int, bool], str] = {}
        self._ready: set[str] = set()

    def _ensure_table(self, layout: ViewLayout) -> None:
        if layout.name not in self._ready:  # `apply` creates it; a fresh file may lack it
            create_view_table(self.conn, layout)
            self._ready.add(layout.name)

    def _statement(self, layout: ViewLayout, entities: int, created: bool) -> str:
        key = (layout.name, entities, created)
        if key not in self._statements:
            names = list(layout.features)
            # bound per entity: key, event time, [created time], then value + text per feature
            lead = 3 if created else 2
            width = lead + 2 * len(names)
            groups = []
            for e in range(entities):
                base = e * width
                created_ts = f"?{base + 3}" if created else "NULL"  # NULL bound costs more
                for i, name in enumerate(names):
                    groups.append(
                        f"(?{base + 1},{literal(name)},?{base + lead + 1 + 2 * i},"
                        f"?{base + lead + 2 + 2 * i},?{base + 2},{created_ts})"
                    )
            self._statements[key] = (
                f"INSERT INTO {table_name(layout)} (entity_key, feature_name, value, value_text, "
                f"event_ts, created_ts) VALUES {','.join(groups)} "
                "ON CONFLICT(entity_key, feature_name) DO UPDATE SET value = excluded.value, "
                "value_text = excluded.value_text, event_ts = excluded.event_ts, "
                "created_ts = excluded.created_ts"
            )
        return self._statements[key]

    def encode(
        self, layout: ViewLayout, rows: pa.Table, timestamp: str, created: str | None
    ) -> Encoded:
        n = rows.num_rows
        if n == 0:
            return _SqliteBatch(rows=0, layout=layout, groups={}, created=False)
        keys = encode_entity_keys({k: rows[k] for k in layout.join_keys}, layout.join_keys)
        order = pc.sort_indices(keys)  # primary-key order: B-tree appends
        keys, rows = keys.take(order), rows.take(order)
        micros, valid = epoch_micros(rows[timestamp])
        columns: list[list[Any]] = [keys.to_pylist(), stored_seconds(micros, valid)]
        if created is not None:
            columns.append(stored_seconds(*epoch_micros(rows[created])))
        for name, value_type in layout.features.items():
            columns.append(encode_values(rows[name], value_type).to_pylist())
            columns.append(value_texts(rows[name], value_type))
        matrix = np.empty((n, len(columns)), dtype=object)
        for j, column in enumerate(columns):
            matrix[:, j] = column
        # many entities per statement, within SQLite's limit on bound parameters
        largest = max(1, min(_ENTITIES_PER_STATEMENT, self._max_variables // len(columns)))
        groups: dict[int, list[list[Any]]] = {}
        at = 0
        for size in _statement_sizes(largest):
            count = (n - at) // size
            if count:
                part = matrix[at : at + count * size]
                groups[size] = part.reshape(count, size * len(columns)).tolist()
                at += count * size
        return _SqliteBatch(rows=n, layout=layout, groups=groups, created=created is not None)

    def store_on(self, conn: sqlite3.Connection, encoded: Encoded) -> int:
        """Run ``encoded``'s upserts on ``conn`` inside the caller's transaction (the
        stream processor commits them with its log acknowledgement)."""
        assert isinstance(encoded, _SqliteBatch)
        if encoded.rows == 0:
            return 0
        create_view_table(conn, encoded.layout)
        for size, params in encoded.groups.items():
            conn.executemany(self._statement(encoded.layout, size, encoded.created), params)
        return encoded.rows

    def store(self, encoded: Encoded) -> int:
        assert isinstance(encoded, _SqliteBatch)
        if encoded.rows == 0:
            return 0
        layout, created = encoded.layout, encoded.created
        self._ensure_table(layout)
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            for size, params in encoded.groups.items():
                self.conn.executemany(self._statement(layout, size, created), params)
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise SourceError("online store", "sqlite", f"{self.path}: {exc}") from None
        return encoded.rows

    def close(self) -> None:
        self.conn.close()
        self._checkpointer.close()  # its last checkpoint folds the rest of the WAL in
