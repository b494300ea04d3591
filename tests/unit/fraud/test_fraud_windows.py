"""The fraud deployment's window features through the platform, against the
brute-force reference (``tests/unit/windows/window_reference.py``).

Label rows are the transactions themselves, each at its own time: the window
``(t - w, t]`` includes the transaction (what an online read sees once the stream
processor has folded it in). Derived scores (on-demand views) equal their formulas.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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

AS_OF = datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> FeatureRepo:
    home = tmp_path_factory.mktemp("fraud") / "home"
    settings = Settings(profile="embedded", home=home, deployment="fraud")
    data.seed(settings, size=60, seed=4, as_of=AS_OF)
    repo = FeatureRepo(settings)
    repo.apply()
    materialize(repo, end=AS_OF)
    return repo


def _windows(repo: FeatureRepo, view: str) -> list:
    from potluck.windows.declare import window_features_of

    features = window_features_of(repo.store.registry.get_feature_view(view, repo.config.project))
    assert features
    return features


def _same(a: object, b: object) -> bool:
    return values_match(a, b, scale=1e4) or values_match(b, a, scale=1e4)


def _check(table: object, expected: list[dict], features: list) -> None:
    for feature in features:
        got = table[feature.name].to_pylist()  # type: ignore[index]
        want = [row[feature.name] for row in expected]
        bad = [(i, g, w) for i, (g, w) in enumerate(zip(got, want, strict=True)) if not _same(g, w)]
        assert not bad, (feature.name, bad[:3])


def _label_rows(repo: FeatureRepo, n: int) -> pd.DataFrame:
    tx = data.read_source_table(repo.settings, "transactions").to_pandas()
    rows = tx.sample(n, random_state=2).sort_values("ts")
    return rows


def test_card_windows_at_each_transaction_equal_the_reference(repo: FeatureRepo) -> None:
    events = data.read_source_table(repo.settings, "transactions").to_pylist()
    rows = _label_rows(repo, 150)
    entity = pd.DataFrame({"card_id": rows["card_id"], "event_timestamp": rows["ts"]})
    table = historical_features(repo, entity, "fraud_detection_v1")
    assert table.num_rows == len(rows)
    features = _windows(repo, "transaction_stats_5m")
    expected = reference(events, ["card_id"], "ts", entity.to_dict("records"), features)
    _check(table, expected, features)
    # the transaction counts itself: every label row has at least one event in 5 minutes
    assert min(table["txn_count_5m"].to_pylist()) >= 1
    assert table["amount_max_5m"].to_pylist() >= [0.0] * len(rows)
    np.testing.assert_allclose(
        np.array(table["amount_max_5m"].to_pylist()) >= rows["amount"].to_numpy(), True
    )


def test_derived_scores_offline_equal_their_formulas(repo: FeatureRepo) -> None:
    from potluck.domains.fraud import functions as fn

    rows = _label_rows(repo, 80)
    entity = pd.DataFrame({"card_id": rows["card_id"], "event_timestamp": rows["ts"]})
    t = historical_features(repo, entity, "fraud_detection_v1").to_pandas()
    velocity = fn.velocity_score(t["txn_count_5m"], t["txn_count_30m"], t["amount_sum_5m"])
    np.testing.assert_allclose(t["velocity_score"], velocity)
    np.testing.assert_allclose(
        t["geo_diversity_score"],
        fn.geo_diversity_score(t["unique_countries_5m"], t["txn_count_5m"]),
    )
    np.testing.assert_allclose(
        t["high_risk_txn_ratio"],
        fn.high_risk_txn_ratio(t["high_risk_count_30m"], t["txn_count_30m"]),
    )
    assert (
        t["is_high_velocity"].tolist() == fn.is_high_velocity(t["txn_count_5m"], velocity).tolist()
    )


def test_device_and_session_windows_equal_the_reference(repo: FeatureRepo) -> None:
    tx = data.read_source_table(repo.settings, "transactions")
    rng = np.random.default_rng(3)
    devices = sorted(set(tx["device_id"].to_pylist()))
    picked = [devices[i] for i in rng.integers(0, len(devices), 40)]
    times = [AS_OF - timedelta(minutes=int(m)) for m in rng.integers(0, 2 * 1440, 40)]
    entity = pd.DataFrame({"device_id": picked, "event_timestamp": times})
    features = _windows(repo, "device_activity_24h")
    table = historical_features(repo, entity, [f"device_activity_24h:{f.name}" for f in features])
    expected = reference(tx.to_pylist(), ["device_id"], "ts", entity.to_dict("records"), features)
    _check(table, expected, features)

    clicks = data.read_source_table(repo.settings, "clickstream")
    sample = clicks.to_pandas().sample(60, random_state=1)
    entity = pd.DataFrame(
        {
            "user_id": sample["user_id"],
            "session_id": sample["session_id"],
            "event_timestamp": sample["ts"] + pd.Timedelta(seconds=30),
        }
    )
    table = historical_features(repo, entity, "personalization_v1")
    features = _windows(repo, "user_engagement_5m")
    expected = reference(
        clicks.to_pylist(), ["user_id", "session_id"], "ts", entity.to_dict("records"), features
    )
    _check(table, expected, features)
    assert "engagement_score" in table.column_names and "converted" not in table.column_names


def test_online_card_windows_equal_offline_inside_the_horizon(repo: FeatureRepo) -> None:
    features = [f.name for f in _windows(repo, "transaction_stats_5m")]
    rows = _label_rows(repo, 60)
    # cards with a transaction in the last day (the others have no state: unknown online)
    cards = sorted(set(rows[rows["ts"] > AS_OF - timedelta(hours=23)]["card_id"]))
    assert len(cards) > 10
    for offset in (0, 90, 1800):
        at = AS_OF + timedelta(seconds=offset)
        online = online_features(repo, "fraud_detection_v1", cards, now=at)
        entity = pd.DataFrame({"card_id": cards, "event_timestamp": [at] * len(cards)})
        offline = historical_features(repo, entity, "fraud_detection_v1")
        for name in features:
            got = [row[name] for row in online]
            want = offline[name].to_pylist()
            bad = [(c, g, w) for c, g, w in zip(cards, got, want, strict=True) if not _same(g, w)]
            assert not bad, (offset, name, bad[:3], online[0])


def test_online_derived_scores_equal_offline(repo: FeatureRepo) -> None:
    cards = sorted(set(_label_rows(repo, 40)["card_id"]))
    at = AS_OF + timedelta(seconds=60)
    online = online_features(repo, "fraud_detection_v1", cards, now=at)
    entity = pd.DataFrame({"card_id": cards, "event_timestamp": [at] * len(cards)})
    offline = historical_features(repo, entity, "fraud_detection_v1")
    got = [row["velocity_score"] for row in online]
    want = offline["velocity_score"].to_pylist()
    known = [row["_status"] != "unknown_entity" for row in online]
    assert sum(known) >= len(cards) - 3  # a card with no event in any window is unknown
    bad = [
        (c, g, w)
        for c, g, w, k in zip(cards, got, want, known, strict=True)
        if k and not _same(g, w)
    ]
    assert not bad, bad[:5]
    # an unknown card's derived scores are null online (it is not scored), never made up
    assert all(g is None for g, k in zip(got, known, strict=True) if not k)
