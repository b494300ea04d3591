"""Shared pieces of the online-store tests: cloned homes, raw store dumps, Feast's reads."""

from __future__ import annotations

import shutil
import sqlite3
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from potluck.features.repo import FeatureRepo
from potluck.settings import RedisSettings, Settings

# The data's anchor: midnight UTC today, so TTLs relative to "now" mix live and expired values.
AS_OF = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
END = AS_OF
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PATIENTS = 1200


def clone(template: Path, dest: Path, redis: tuple[int, int] | None = None) -> FeatureRepo:
    """A copy of the seeded home (its online tables empty: the template is never
    materialized) on SQLite, or on Redis ``(port, db)`` flushed."""
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(template, dest, ignore=shutil.ignore_patterns("online", "feature_repo"))
    if redis is None:
        return FeatureRepo(Settings(home=dest))
    port, db = redis
    import redis as redis_py

    redis_py.Redis(port=port, db=db).flushdb()
    settings = Settings(home=dest, online_store="redis", redis=RedisSettings(port=port, db=db))
    return FeatureRepo(settings)


def feast_materialize(repo: FeatureRepo, end: datetime = END) -> None:
    """Feast's own ``FeatureStore.materialize`` over the same window."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        repo.store.materialize(start_date=EPOCH, end_date=end)


def sqlite_rows(repo: FeatureRepo) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every online table, in key order."""
    path = repo.config.online_store.path
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {
            t: conn.execute(f'SELECT * FROM "{t}" ORDER BY entity_key, feature_name').fetchall()
            for t in sorted(tables)
        }


def redis_hashes(port: int, db: int) -> dict[bytes, dict[bytes, bytes]]:
    import redis as redis_py

    client = redis_py.Redis(port=port, db=db)
    return {key: client.hgetall(key) for key in client.scan_iter(count=1000)}


def feast_online(repo: FeatureRepo, service: str, ids: list[str]) -> dict[str, list[Any]]:
    """``get_online_features(...).to_dict()`` of plain Feast."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        store = repo.store
        response = store.get_online_features(
            features=store.get_feature_service(service),
            entity_rows=[{"patient_id": p} for p in ids],
        )
        return response.to_dict()


def patient_ids(n: int = PATIENTS) -> list[str]:
    return [f"P{i:08d}" for i in range(1, n + 1)]


def hours(n: float) -> timedelta:
    return timedelta(hours=n)
