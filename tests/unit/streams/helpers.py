"""Shared pieces of the stream tests: a seeded clicks home, events, and the batch check."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from potluck.features.repo import FeatureRepo
from potluck.settings import RedisSettings, Settings
from potluck.workflows import data

DEPLOYMENT = str(Path(__file__).parents[2] / "deployments" / "clicks")
CARDS = 30


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def clicks_repo(home: Path, redis: tuple[int, int] | None = None, size: int = CARDS) -> FeatureRepo:
    """The clicks deployment seeded with a day of history up to an hour ago, applied."""
    extra: dict[str, Any] = {}
    if redis is not None:
        import redis as redis_py

        redis_py.Redis(port=redis[0], db=redis[1]).flushdb()
        extra = {"online_store": "redis", "redis": RedisSettings(port=redis[0], db=redis[1])}
    settings = Settings(profile="embedded", home=home, deployment=DEPLOYMENT, **extra)
    data.seed(settings, size=size, seed=3, as_of=now() - timedelta(hours=1))
    repo = FeatureRepo(settings)
    repo.apply()
    return repo


def events(
    n: int, seed: int = 0, start: datetime | None = None, span_s: int = 1800
) -> list[dict[str, Any]]:
    """``n`` transactions of the last ``span_s`` seconds, out of order."""
    rng = np.random.default_rng(seed)
    end = start or now()
    out = []
    # distinct times: which of two events at the same instant is "latest" is arbitrary
    offsets = rng.choice(span_s * 1_000_000, size=n, replace=False)
    for i in range(n):
        out.append(
            {
                "card_id": f"card_{int(rng.integers(0, CARDS)):05d}",
                "ts": (end - timedelta(microseconds=int(offsets[i]))).isoformat(),
                "amount": round(float(rng.gamma(2.0, 30.0)), 2),
                "country": str(rng.choice(["US", "FR", "DE"])),
                "high_risk": int(rng.random() < 0.2),
                "is_fraud": 0,
            }
        )
    return out


def _same(a: Any, b: Any) -> bool:
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return b is None or (isinstance(b, float) and math.isnan(b))
    if isinstance(a, float) or isinstance(b, float):
        return b is not None and math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


def assert_online_equals_batch(repo: FeatureRepo, at: datetime) -> list[dict[str, Any]]:
    """Online values of every card at ``at`` equal the training-set values at ``at``
    (the offline kernel over the offline table, which the processor appended to)."""
    from potluck.features.retrieval import historical_features
    from potluck.online.reads import online_features

    cards = [f"card_{i:05d}" for i in range(CARDS)]
    online = online_features(repo, "card_v1", cards, now=at)
    entity = pd.DataFrame({"card_id": cards, "event_timestamp": [at] * len(cards)})
    offline = historical_features(repo, entity, "card_v1")
    names = [c for c in offline.column_names if c not in ("card_id", "event_timestamp")]
    bad = []
    for name in names:
        want = offline[name].to_pylist()
        for i, row in enumerate(online):
            if not _same(row.get(name), want[i]):
                bad.append((cards[i], name, row.get(name), want[i]))
    assert not bad, bad[:5]
    return online


def offline_rows(repo: FeatureRepo) -> pa.Table:
    return data.read_source_table(repo.settings, "txns")
