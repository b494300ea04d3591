"""potluck's writer leaves exactly the rows Feast's own materialization leaves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from potluck.devservices import Server
from potluck.online.materialize import materialize
from tests.integration.online.conftest import Pair
from tests.integration.online.helpers import (
    END,
    clone,
    feast_online,
    patient_ids,
    redis_hashes,
    sqlite_rows,
)

pytestmark = pytest.mark.xdist_group("online")

SERVICES = ("stroke_risk_v1", "stroke_risk_full")


def test_sqlite_rows_equal_feast(sqlite_pair: Pair) -> None:
    ours, theirs = sqlite_rows(sqlite_pair.ours), sqlite_rows(sqlite_pair.feast)
    assert set(ours) == set(theirs) and len(ours) == 6
    for table, rows in theirs.items():
        assert len(rows) > 1000, table
        assert ours[table] == rows, table
    assert sqlite_pair.summary.engine == "sqlite"
    assert max(sqlite_pair.summary.chunks.values()) >= 2  # more than one chunk per view


def test_redis_hashes_equal_feast(redis_pair: Pair, redis_server: Server) -> None:
    theirs = redis_hashes(redis_server.port, 1)
    ours = redis_hashes(redis_server.port, 2)
    assert len(theirs) > 1000
    assert ours == theirs
    assert redis_pair.summary.engine == "redis"
    assert redis_pair.summary.total_rows == sum(
        1 for h in theirs.values() for f in h if f.startswith(b"_ts:")
    )


@pytest.mark.parametrize("store", ["sqlite", "redis"])
def test_feast_reads_the_same_values(store: str, request: pytest.FixtureRequest) -> None:
    pair: Pair = request.getfixturevalue(f"{store}_pair")
    ids = [*patient_ids()[::7], "P99999999"]
    for service in SERVICES:
        assert feast_online(pair.ours, service, ids) == feast_online(pair.feast, service, ids)


def test_rerun_is_idempotent_and_registered(redis_pair: Pair, redis_server: Server) -> None:
    before = redis_hashes(redis_server.port, 2)
    summary = materialize(redis_pair.ours, end=END, chunk_size=300)
    assert summary.total_rows == redis_pair.summary.total_rows
    assert redis_hashes(redis_server.port, 2) == before
    views = redis_pair.ours.store.registry.list_feature_views(
        redis_pair.ours.config.project, allow_cache=False
    )
    assert {v.most_recent_end_time for v in views} == {END}  # Feast's incremental continues here


def test_redis_scripts_flushed_mid_run_are_loaded_again(
    online_home: Path,
    redis_pair: Pair,
    redis_server: Server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import redis

    from potluck.online.reads import online_features
    from potluck.online.stores import redis as redis_store

    client = redis.Redis(port=redis_server.port)
    real = redis_store.RedisWriter.store

    def flushing(self: redis_store.RedisWriter, *args: Any) -> int:
        client.script_flush()  # as after a server restart: every script is gone
        return real(self, *args)

    monkeypatch.setattr(redis_store.RedisWriter, "store", flushing)
    repo = clone(online_home, tmp_path / "home", (redis_server.port, 6))
    materialize(repo, end=END, chunk_size=2000)
    assert redis_hashes(redis_server.port, 6) == redis_hashes(redis_server.port, 1)
    ids = patient_ids()[:20]
    before = online_features(repo, "stroke_risk_v1", ids)
    client.script_flush()
    assert online_features(repo, "stroke_risk_v1", ids) == before


def test_stores_without_a_fast_writer_are_materialized_by_feast(
    online_home: Path, sqlite_pair: Pair, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from potluck.online import stores

    monkeypatch.setattr(stores, "open_writer", lambda config: None)
    repo = clone(online_home, tmp_path / "home")
    summary = materialize(repo, end=END)
    assert summary.engine == "feast"
    assert summary.total_rows == sqlite_pair.summary.total_rows
    assert sqlite_rows(repo) == sqlite_rows(sqlite_pair.feast)
