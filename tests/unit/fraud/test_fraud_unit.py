"""The fraud deployment's contract, generator and formulas, without a feature store run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from potluck.deployment import load_deployment
from potluck.domains.fraud import functions as fn
from potluck.domains.fraud.synth import card_window_stats, generate

AS_OF = datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def tables() -> dict:
    return generate(300, 11, AS_OF)


def test_built_in_and_its_contract() -> None:
    deployment = load_deployment("fraud")
    assert [e.name for e in deployment.entities] == ["card", "user", "device", "session"]
    assert deployment.label is not None and deployment.label.source == "transactions"
    assert {"is_fraud", "fraud_probability", "converted", "purchase_probability"} <= (
        deployment.forbidden_features
    )
    assert "ip_address" in deployment.pii_columns


def test_no_label_label_derived_or_pii_column_in_any_view_or_service() -> None:
    from feast import FeatureService

    from potluck.windows.declare import window_features_of

    deployment = load_deployment("fraud")
    forbidden = deployment.forbidden_features
    services = [o for o in deployment.objects() if isinstance(o, FeatureService)]
    assert {s.name for s in services} >= {"fraud_detection_v1", "personalization_v1"}
    for service in services:
        for projection in service.feature_view_projections:
            names = {f.name for f in projection.features}
            assert not names & forbidden, (service.name, projection.name, names & forbidden)
    for obj in deployment.objects():
        for feature in window_features_of(obj) or []:
            # a window may not aggregate the label either (it would leak through a count)
            assert not set(feature.columns) & forbidden, feature


def test_generator_is_deterministic_time_ordered_and_unique_per_card_and_time(
    tables: dict,
) -> None:
    again = generate(300, 11, AS_OF)
    assert tables["transactions"].equals(again["transactions"])
    tx = tables["transactions"].to_pandas()
    assert tx["ts"].is_monotonic_increasing and tx["ts"].max() <= AS_OF
    assert tx["ts"].min() >= AS_OF - timedelta(days=2)
    assert not tx.duplicated(["card_id", "ts"]).any()
    assert tx["transaction_id"].is_unique
    clicks = tables["clickstream"].to_pandas()
    assert clicks["ts"].is_monotonic_increasing and len(clicks) > 300
    assert set(clicks["event_type"]) == {"page_view", "scroll", "cart_add", "purchase"}


def test_label_is_drawn_from_the_known_model_of_the_windows(tables: dict) -> None:
    from sklearn.metrics import roc_auc_score

    tx = tables["transactions"].to_pandas().sort_values(["card_id", "ts"], kind="stable")
    stats = card_window_stats(
        tx["card_id"].to_numpy(),
        tx["ts"].to_numpy().astype("datetime64[us]").astype("int64"),
        tx["country"].to_numpy(),
        tx["high_risk_merchant"].to_numpy(),
        tx["amount"].to_numpy(),
    )
    p = fn.fraud_probability(
        stats["txn_count_5m"],
        stats["unique_countries_5m"],
        tx["device_age_min"].to_numpy(),
        stats["high_risk_count_30m"],
        stats["amount_max_5m"],
    )
    np.testing.assert_allclose(p, tx["fraud_probability"].to_numpy(), atol=1e-5)
    y = tx["is_fraud"].to_numpy()
    assert 0.01 < y.mean() < 0.08
    assert roc_auc_score(y, p) > 0.8  # the planted patterns carry the signal


def test_formulas() -> None:
    assert fn.geo_diversity_score(np.array([1, 3, 2]), np.array([1, 3, 5])).tolist() == [
        0.0,
        1.0,
        0.25,
    ]
    assert fn.velocity_score(5, 10, 1000) == pytest.approx(1.0)
    assert fn.velocity_score(0, 0, 0) == 0.0
    assert fn.high_risk_txn_ratio(np.array([1, 0]), np.array([4, 0])).tolist() == [0.25, 0.0]
    assert fn.is_high_velocity(np.array([3, 1, 1]), np.array([0.0, 0.7, 0.1])).tolist() == [
        1,
        1,
        0,
    ]
    score = fn.engagement_score(10, 60, 1.0, 2)
    assert score == pytest.approx(1.0)
    assert fn.engagement_score(None, float("nan"), None, 0) == 0.0
    assert fn.is_likely_purchaser(np.array([1, 0]), np.array([0.6, 0.9])).tolist() == [1, 0]
    assert fn.conversion_rate_session(np.array([1, 3]), np.array([0, 2])).tolist() == [1.0, 1.0]
    assert fn.click_rate_5m(10) == 2.0
