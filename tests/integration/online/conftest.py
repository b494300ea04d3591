"""The seeded healthcare deployment the online tests share, and its online stores.

``online_home`` is seeded, applied and engineered once (1,200 patients); tests
clone it (data and registry, no online state) for each store they write.
``sqlite_pair`` / ``redis_pair`` hold the same window materialized twice: by
Feast's own ``FeatureStore.materialize`` and by potluck's writer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from potluck.devservices import Server
from potluck.features.repo import FeatureRepo
from potluck.online.materialize import MaterializeSummary, materialize
from potluck.settings import Settings
from potluck.workflows import data
from tests.integration.online.helpers import AS_OF, END, PATIENTS, clone, feast_materialize


@dataclass(frozen=True)
class Pair:
    feast: FeatureRepo
    ours: FeatureRepo
    summary: MaterializeSummary


@pytest.fixture(scope="session")
def online_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("online") / "template"
    settings = Settings(home=home)
    data.seed(settings, size=PATIENTS, seed=11, as_of=AS_OF)
    FeatureRepo(settings).apply()
    data.engineer(settings)
    return home


@pytest.fixture(scope="session")
def sqlite_pair(online_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Pair:
    root = tmp_path_factory.mktemp("sqlite_pair")
    feast = clone(online_home, root / "feast")
    feast_materialize(feast)
    ours = clone(online_home, root / "ours")
    summary = materialize(ours, end=END, chunk_size=500)
    return Pair(feast, ours, summary)


@pytest.fixture(scope="session")
def redis_pair(
    online_home: Path, redis_server: Server, tmp_path_factory: pytest.TempPathFactory
) -> Pair:
    root = tmp_path_factory.mktemp("redis_pair")
    feast = clone(online_home, root / "feast", (redis_server.port, 1))
    feast_materialize(feast)
    ours = clone(online_home, root / "ours", (redis_server.port, 2))
    summary = materialize(ours, end=END, chunk_size=500)
    return Pair(feast, ours, summary)
