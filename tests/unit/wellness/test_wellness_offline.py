"""Wellness features in training sets: every window feature equals the brute-force
reference, the derived and composite features are their formulas of those values, and
the label's oracle is the known model evaluated on the platform's own features."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from tests.unit.wellness.conftest import AS_OF, USERS
from tests.unit.windows.window_reference import reference, values_match

from potluck.domains.wellness import functions as fn
from potluck.domains.wellness.schema import LABEL_SOURCE, ORACLE, TIMESTAMP_FIELDS
from potluck.domains.wellness.views import WINDOW_FEATURES
from potluck.features.repo import FeatureRepo
from potluck.features.retrieval import historical_features
from potluck.workflows import data

SOURCE_OF = {
    "user_activity_features": "activities",
    "sleep_features": "sleep_sessions",
    "exercise_features": "exercise_sessions",
    "social_features": "social_events",
    "integration_features": "device_integrations",
}


def _same(a: Any, b: Any) -> bool:
    return values_match(a, b, scale=1e4) or values_match(b, a, scale=1e4)


def _entity_rows(seed: int, n: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    users = [f"user-{i}" for i in rng.integers(1, USERS + 5, n)]  # a few without events
    seconds = rng.integers(-3600, 35 * 86_400, n)
    times = [AS_OF - timedelta(seconds=int(s)) for s in seconds]
    return pd.DataFrame({"user_id": users, "event_timestamp": times})


@pytest.mark.parametrize("view", sorted(WINDOW_FEATURES))
def test_window_features_equal_the_reference(repo: FeatureRepo, view: str) -> None:
    features = WINDOW_FEATURES[view]
    source = SOURCE_OF[view]
    entity = _entity_rows(sorted(WINDOW_FEATURES).index(view), 40)
    table = historical_features(repo, entity, [f"{view}:{f.name}" for f in features])
    assert table["user_id"].to_pylist() == entity["user_id"].tolist()  # every row, in order
    events: dict[str, list[dict[str, Any]]] = {}
    for event in data.read_source_table(repo.settings, source).to_pylist():
        events.setdefault(event["user_id"], []).append(event)
    for i, row in enumerate(entity.to_dict("records")):
        want = reference(
            events.get(row["user_id"], []), ["user_id"], TIMESTAMP_FIELDS[source], [row], features
        )[0]
        for f in features:
            got = table[f.name][i].as_py()
            assert _same(got, want[f.name]), (view, f.name, row, got, want[f.name])


def test_derived_and_composites_are_their_formulas(repo: FeatureRepo) -> None:
    entity = _entity_rows(11, 60)
    entity["current_hour"] = [int(h) for h in np.arange(60) % 24]
    entity["day_of_week"] = [int(d) for d in np.arange(60) % 7]
    entity["is_weekend"] = [int(d >= 5) for d in entity["day_of_week"]]
    helpers = [
        "sleep_features:sleep_duration_stddev_7d",
        "sleep_features:sleep_minutes_7d",
        "integration_features:syncs_7d",
        "integration_features:successful_syncs_7d",
    ]
    energy = historical_features(repo, entity, "energy_prediction_v1").to_pandas()
    board = historical_features(repo, entity, "wellness_dashboard_v1").to_pandas()
    extra = historical_features(repo, entity, helpers).to_pandas()

    def close(a: pd.Series, b: pd.Series) -> None:
        np.testing.assert_allclose(
            pd.to_numeric(a, errors="coerce").to_numpy("float64", na_value=np.nan),
            pd.to_numeric(b, errors="coerce").to_numpy("float64", na_value=np.nan),
            rtol=1e-9,
            atol=1e-9,
        )

    close(
        board["sleep_consistency_7d"],
        fn.sleep_consistency_7d(extra["sleep_duration_stddev_7d"], board["avg_sleep_duration_7d"]),
    )
    close(
        board["sleep_debt_minutes"],
        fn.sleep_debt_minutes(board["sleep_sessions_7d"], extra["sleep_minutes_7d"]),
    )
    close(
        board["sync_reliability_score"],
        fn.sync_reliability_score(extra["successful_syncs_7d"], extra["syncs_7d"]),
    )
    close(board["avg_post_likes"], fn.avg_post_likes(board["likes_received_7d"], board["posts_7d"]))
    reference_energy = fn.reference_energy(
        energy["avg_energy_7d"],
        energy["avg_sleep_duration_7d"],
        energy["sleep_quality_score"],
        energy["exercise_minutes_7d"],
        energy["high_intensity_count_7d"],
    )
    close(
        energy["predicted_energy"],
        fn.predicted_energy(reference_energy, entity["current_hour"], entity["is_weekend"]),
    )
    score = fn.wellness_score(
        fn.sleep_score(board["avg_sleep_duration_7d"], board["sleep_quality_score"]),
        fn.exercise_score(board["exercise_minutes_7d"]),
        fn.activity_score(board["total_minutes_7d"]),
    )
    close(board["wellness_score"], score)
    assert board["wellness_trend"].tolist() == fn.wellness_trend(score).tolist()
    assert set(board["wellness_trend"]) <= {"excellent", "good", "fair", "needs_improvement"}
    assert energy["predicted_energy"].between(1, 10).all()
    assert energy["energy_confidence"].between(0.3, 1).all()


def test_the_oracle_is_the_known_model_of_the_platform_features(repo: FeatureRepo) -> None:
    labels = data.read_source_table(repo.settings, LABEL_SOURCE).to_pandas()
    labels = labels.sample(200, random_state=0).reset_index(drop=True)
    entity = labels[["user_id", "event_timestamp"]]
    table = historical_features(repo, entity, "ml_training_v1").to_pandas()
    model = fn.reference_energy(
        table["avg_energy_7d"],
        table["avg_sleep_duration_7d"],
        table["sleep_quality_score"],
        table["exercise_minutes_7d"],
        table["high_intensity_count_7d"],
    )
    np.testing.assert_allclose(model.to_numpy(), labels[ORACLE].to_numpy(), atol=1e-4)


def test_a_count_of_events_alone_counts_them() -> None:
    """Regression: a request whose only feature is a column-less, filter-less count (the
    event table then keeps no column, and a column-less ``take`` has no rows)."""
    from datetime import UTC, datetime

    import pyarrow as pa

    from potluck.windows import WindowFeature
    from potluck.windows.offline import compute

    t = datetime(2026, 3, 1, tzinfo=UTC)
    events = pa.table(
        {"user_id": ["a", "a", "b"], "ts": [t - timedelta(hours=h) for h in (1, 30, 2)]}
    )
    rows = pa.table({"user_id": ["a", "b", "c"], "event_timestamp": [t, t, t]})
    feature = WindowFeature("n_24h", None, "count", timedelta(hours=24))
    assert compute(events, "user_id", "ts", rows, [feature])["n_24h"].to_pylist() == [1, 1, 0]
