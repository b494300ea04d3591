"""One small seeded, applied and materialized wellness deployment per module."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from potluck.features.repo import FeatureRepo
from potluck.online.materialize import materialize
from potluck.settings import Settings
from potluck.workflows import data

# Materialized at (about) now: the API reads at the real clock, inside every TTL; the
# other tests read with now= relative to AS_OF.
AS_OF = datetime.now(UTC).replace(second=0, microsecond=0)
USERS = 40


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> FeatureRepo:
    home = tmp_path_factory.mktemp("wellness") / "home"
    settings = Settings(profile="embedded", home=home, deployment="wellness")
    data.seed(settings, size=USERS, seed=3, as_of=AS_OF)
    repo = FeatureRepo(settings)
    repo.apply()
    materialize(repo, end=AS_OF)
    return repo
