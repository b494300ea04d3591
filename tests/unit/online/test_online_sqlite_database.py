"""The SQLite online database potluck creates before Feast's ``apply`` does."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from potluck.online.stores.sqlite._common import PAGE_SIZE, prepare_database


def _pragma(path: Path, name: str) -> object:
    with sqlite3.connect(path) as conn:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]


def test_a_new_database_gets_big_pages_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "online.db"
    prepare_database(str(path))
    assert path.is_file()
    assert _pragma(path, "page_size") == PAGE_SIZE != 4096
    assert _pragma(path, "journal_mode") == "wal"


def test_an_existing_database_is_left_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "online.db"
    with sqlite3.connect(path) as conn:  # created by someone else, default pages, a table
        conn.execute("CREATE TABLE t (x)")
        conn.execute("INSERT INTO t VALUES (1)")
    prepare_database(str(path))
    assert _pragma(path, "page_size") == 4096
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT x FROM t").fetchall() == [(1,)]


def test_apply_creates_the_online_database_with_big_pages(tmp_path: Path) -> None:
    """Feast's own apply then creates its tables in it, and Feast reads it as usual
    (tests/integration/online compares Feast's reads of what potluck wrote)."""
    from potluck.features.repo import FeatureRepo
    from potluck.settings import Settings

    repo = FeatureRepo(Settings(home=tmp_path / "home"))
    repo.apply()
    db = tmp_path / "home" / "online.db"
    assert _pragma(db, "page_size") == PAGE_SIZE
    with sqlite3.connect(db) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert any(t.endswith("_clinical_statistics") for t in tables)


def test_the_checkpointer_folds_the_wal_into_the_database_while_writes_go_on(
    tmp_path: Path,
) -> None:
    """The writer's own automatic checkpoints are off; the background checkpointer
    copies its WAL into the database, and after close nothing is left behind in it."""
    import time

    from potluck.online.stores.sqlite.writer import _Checkpointer

    path = tmp_path / "online.db"
    prepare_database(str(path))
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    writer.execute("CREATE TABLE t (x BLOB)")
    checkpointer = _Checkpointer(str(path), every_s=0.01)
    try:
        for _ in range(20):
            writer.execute("BEGIN")
            writer.executemany("INSERT INTO t VALUES (?)", [(b"x" * 500,)] * 200)
            writer.execute("COMMIT")
            time.sleep(0.005)
        time.sleep(0.2)
        # 2 MB were written: without the checkpointer they would all still sit in the WAL,
        # the database file holding only its first pages
        assert path.stat().st_size > 1_500_000
    finally:
        checkpointer.close()
    with sqlite3.connect(path) as other:
        assert other.execute("SELECT count(*) FROM t").fetchone()[0] == 4000
    writer.close()


def _schema(db: Path, name: str) -> str:
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (name,)).fetchone()
    assert row is not None, name
    return str(row[0])


def test_apply_creates_view_tables_in_the_layout_the_writer_is_fastest_with(
    tmp_path: Path,
) -> None:
    """Feast's columns and key, rows kept in the key's B-tree (``WITHOUT ROWID``) and
    the ``_ek`` index empty; a second apply (Feast's ``update`` again) keeps them, and
    Feast's read statement looks entities up through the primary key."""
    from potluck.features.repo import FeatureRepo
    from potluck.settings import Settings

    repo = FeatureRepo(Settings(home=tmp_path / "home"))
    repo.apply()
    repo.apply()
    db = tmp_path / "home" / "online.db"
    table = f"{repo.store.project}_clinical_statistics"
    assert _schema(db, table).endswith("WITHOUT ROWID")
    assert "PRIMARY KEY(entity_key, feature_name)" in _schema(db, table)
    assert _schema(db, f"{table}_ek").endswith("WHERE 0")
    with sqlite3.connect(db) as conn:
        columns = [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]
        plan = conn.execute(
            f'EXPLAIN QUERY PLAN SELECT entity_key, feature_name, value, event_ts FROM "{table}" '
            "WHERE entity_key IN (?, ?) ORDER BY entity_key",
            (b"a", b"b"),
        ).fetchall()
    assert columns == [
        "entity_key",
        "feature_name",
        "value",
        "value_text",
        "vector_value",
        "event_ts",
        "created_ts",
    ]
    assert "PRIMARY KEY" in " ".join(str(r[-1]) for r in plan)


def _write_clinical(home: Path, feast_made: bool) -> tuple[str, list[tuple[object, ...]]]:
    """Write three patients through potluck's writer into a table that Feast's own
    ``update`` made (rowid layout) or that the writer makes itself."""
    import pyarrow as pa
    from feast.infra.online_stores.sqlite import SqliteOnlineStore
    from feast.value_type import ValueType

    from potluck.domains.healthcare.features import clinical_statistics
    from potluck.features.repo import FeatureRepo
    from potluck.online.stores.base import ViewLayout
    from potluck.online.stores.sqlite.writer import SqliteWriter
    from potluck.settings import Settings

    config = FeatureRepo(Settings(home=home)).config
    if feast_made:
        SqliteOnlineStore().update(config, [], [clinical_statistics], [], [], partial=False)
    features = {f.name: f.dtype.to_value_type() for f in clinical_statistics.features}
    layout = ViewLayout(
        name="clinical_statistics",
        stored_name="clinical_statistics",
        project=config.project,
        join_keys={"patient_id": ValueType.STRING},
        features=dict(sorted(features.items())),
    )
    n = 3
    rows = pa.table(
        {
            "patient_id": ["P2", "P1", "P3"],
            "event_timestamp": pa.array([10**15 + i for i in range(n)], pa.timestamp("us", "UTC")),
            **{
                name: [1.5, None, 2.25] if kind == ValueType.DOUBLE else [120, 80, None]
                for name, kind in features.items()
            },
        }
    )
    writer = SqliteWriter(config)
    try:
        assert writer.write(layout, rows, "event_timestamp", None) == n
    finally:
        writer.close()
    db = home / "online.db"
    table = f"{config.project}_clinical_statistics"
    with sqlite3.connect(db) as conn:
        stored = conn.execute(f'SELECT * FROM "{table}" ORDER BY entity_key, feature_name')
        return _schema(db, table), stored.fetchall()


def test_a_table_feast_made_keeps_its_layout_and_gets_the_same_rows(tmp_path: Path) -> None:
    feast_schema, feast_rows = _write_clinical(tmp_path / "feast", feast_made=True)
    our_schema, our_rows = _write_clinical(tmp_path / "ours", feast_made=False)
    assert "WITHOUT ROWID" not in feast_schema
    assert our_schema.endswith("WITHOUT ROWID")
    assert len(our_rows) == 3 * 6
    assert our_rows == feast_rows
