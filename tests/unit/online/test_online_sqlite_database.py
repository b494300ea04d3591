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
