"""Window features through the platform: training set, materialization, online reads.

The test deployment ``tests/deployments/clicks`` declares ten window features (with a
filter, count_distinct, last and time_since_last) beside a latest-value view. The
training set's window values equal the brute-force reference; after materialization,
online values at random request times inside the state's horizon equal the offline
values for the same times; past the horizon they are reported expired.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.unit.windows.window_reference import reference, values_match

from potluck.features.repo import FeatureRepo
from potluck.features.retrieval import historical_features
from potluck.online.materialize import materialize
from potluck.online.reads import online_features
from potluck.settings import Settings
from potluck.workflows import data

DEPLOYMENT = str(Path(__file__).parents[2] / "deployments" / "clicks")
AS_OF = datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> FeatureRepo:
    home = tmp_path_factory.mktemp("clicks") / "home"
    settings = Settings(profile="embedded", home=home, deployment=DEPLOYMENT)
    data.seed(settings, size=40, seed=5, as_of=AS_OF)
    repo = FeatureRepo(settings)
    repo.apply()
    materialize(repo, end=AS_OF)
    return repo


def _features(repo: FeatureRepo) -> list:
    from potluck.windows.declare import window_features_of

    view = repo.store.registry.get_feature_view("card_windows", repo.config.project)
    features = window_features_of(view)
    assert features is not None and len(features) == 10
    return features


def _same(a: object, b: object) -> bool:
    return values_match(a, b) or values_match(b, a)


def test_training_set_window_values_equal_the_reference(repo: FeatureRepo) -> None:
    FEATURES = _features(repo)
    events = data.read_source_table(repo.settings, "txns")
    rng = np.random.default_rng(1)
    cards = [f"card_{i:05d}" for i in rng.integers(0, 45, 60)]  # some cards have no events
    times = [AS_OF - timedelta(seconds=int(s)) for s in rng.integers(-600, 90_000, 60)]
    entity = pd.DataFrame({"card_id": cards, "event_timestamp": times})
    table = historical_features(repo, entity, "card_v1")
    assert table.num_rows == 60 and table["card_id"].to_pylist() == cards  # order kept
    rows = [{"card_id": c, "event_timestamp": t} for c, t in zip(cards, times, strict=True)]
    expected = reference(events.to_pylist(), ["card_id"], "ts", rows, FEATURES)
    for feature in FEATURES:
        got = table[feature.name].to_pylist()
        want = [row[feature.name] for row in expected]
        bad = [(i, g, w) for i, (g, w) in enumerate(zip(got, want, strict=True)) if not _same(g, w)]
        assert not bad, (feature.name, bad[:3])


def test_online_equals_offline_inside_the_horizon(repo: FeatureRepo) -> None:
    FEATURES = _features(repo)
    cards = [f"card_{i:05d}" for i in range(0, 40, 3)]
    for offset in (0, 59, 1800, 7200):  # seconds after the anchor; 7200 = the horizon
        at = AS_OF + timedelta(seconds=offset)
        online = online_features(repo, "card_v1", cards, now=at)
        entity = pd.DataFrame({"card_id": cards, "event_timestamp": [at] * len(cards)})
        offline = historical_features(repo, entity, "card_v1")
        for feature in FEATURES:
            got = [row[feature.name] for row in online]
            want = offline[feature.name].to_pylist()
            assert all(_same(g, w) for g, w in zip(got, want, strict=True)), (offset, feature.name)
        assert all(row["_found"] for row in online)


def test_past_the_horizon_window_values_are_expired_not_wrong(repo: FeatureRepo) -> None:
    late = AS_OF + timedelta(hours=3)
    rows = online_features(repo, "card_v1", ["card_00001", "nobody"], now=late)
    assert rows[0]["txn_count_5m"] is None and "txn_count_5m" in rows[0]["_expired"]
    assert rows[0]["_status"] == "partial"
    assert rows[1]["_status"] == "unknown_entity"
