"""Wellness features online: equal to the training-set values inside each view's TTL,
expired past it (at the seed's TTLs), on-demand views over window features and
request data through potluck's read path and through the Feast SDK, and the
online-only push of ``user_activity_push``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from tests.unit.wellness.conftest import AS_OF
from tests.unit.windows.window_reference import values_match

from potluck.domains.wellness import functions as fn
from potluck.domains.wellness.views import TTLS, VIEWS, listed
from potluck.errors import RequestError
from potluck.features.repo import FeatureRepo
from potluck.features.retrieval import historical_features
from potluck.online.reads import online_features
from potluck.online.window_push import push_online
from potluck.workflows import data

USERS = [f"user-{i}" for i in range(1, 12)]
CONTEXT = {"current_hour": 14, "day_of_week": 3, "is_weekend": 0}
FEATURES_OF = {view.name: listed(view) for view in VIEWS}
DERIVED_OF = {
    "user_activity_features": ["most_common_activity_24h"],
    "sleep_features": ["sleep_consistency_7d", "sleep_debt_minutes"],
    "exercise_features": ["exercise_consistency_score", "workout_variety_score_7d"],
    "social_features": ["social_engagement_score", "avg_post_likes", "comment_rate_7d"],
    "integration_features": [
        "last_sync_hours_ago",
        "data_completeness_score",
        "sync_reliability_score",
    ],
}


def _same(a: Any, b: Any) -> bool:
    return values_match(a, b, scale=1e4) or values_match(b, a, scale=1e4)


@pytest.mark.parametrize("offset", [timedelta(0), timedelta(hours=1), timedelta(hours=6)])
def test_online_equals_the_training_set_inside_the_ttls(
    repo: FeatureRepo, offset: timedelta
) -> None:
    at = AS_OF + offset
    online = online_features(repo, "wellness_dashboard_v1", USERS, now=at)
    entity = pd.DataFrame({"user_id": USERS, "event_timestamp": [at] * len(USERS)})
    offline = historical_features(repo, entity, "wellness_dashboard_v1")
    names = repo.resolve("wellness_dashboard_v1").names  # not the on-demand views' inputs
    assert {"wellness_score", "most_common_activity_24h", "sleep_debt_minutes"} <= set(names)
    for name in names:
        want = offline[name].to_pylist()
        got = [row[name] for row in online]
        assert all(_same(g, w) for g, w in zip(got, want, strict=True)), (offset, name, got, want)
    assert all(row["_expired"] == [] for row in online)


@pytest.mark.parametrize(
    ("late", "expired_views"),
    [
        (timedelta(hours=6, seconds=1), {"integration_features"}),
        (
            timedelta(hours=12, seconds=1),
            {"integration_features", "sleep_features", "exercise_features"},
        ),
        (timedelta(hours=24, seconds=1), set(TTLS)),
    ],
)
def test_values_expire_at_the_seed_ttls(
    repo: FeatureRepo, late: timedelta, expired_views: set[str]
) -> None:
    """Materialized at AS_OF: a read past AS_OF + a view's TTL reports its features (and
    the on-demand features computed from them) expired and null; the rest are served."""
    row = online_features(repo, "wellness_dashboard_v1", ["user-1"], now=AS_OF + late)[0]
    gone = set(row["_expired"])
    for view, names in FEATURES_OF.items():
        affected = [*names, *DERIVED_OF[view]]
        if view in expired_views:
            assert set(affected) <= gone, (view, late)
            assert all(row[n] is None for n in affected)
        else:
            assert not set(affected) & gone, (view, late)
    composite = {"wellness_score", "wellness_trend"}  # sleep, exercise and activity inputs
    assert (composite <= gone) == bool(expired_views & {"sleep_features", "exercise_features"})
    assert row["_status"] == "partial" and row["_found"]


def test_energy_service_with_request_context_through_potluck(repo: FeatureRepo) -> None:
    at = AS_OF + timedelta(hours=2)
    entities = {"user_id": USERS[:3], **{k: [v] * 3 for k, v in CONTEXT.items()}}
    rows = online_features(repo, "energy_prediction_v1", entities, now=at)
    for row in rows:
        frame = pd.DataFrame([row])
        reference = fn.reference_energy(
            frame["avg_energy_7d"],
            frame["avg_sleep_duration_7d"],
            frame["sleep_quality_score"],
            frame["exercise_minutes_7d"],
            frame["high_intensity_count_7d"],
        )
        want = fn.predicted_energy(reference, frame["current_hour"], frame["is_weekend"])[0]
        assert row["predicted_energy"] == pytest.approx(want)
        assert 0.3 <= row["energy_confidence"] <= 1.0
        assert row["avg_energy_7d"] is not None and row["_status"] in ("ok", "partial")
    # the same request offline (a training set at the same time) gives the same values
    entity = pd.DataFrame(
        {
            "user_id": USERS[:3],
            "event_timestamp": [at] * 3,
            **{k: [v] * 3 for k, v in CONTEXT.items()},
        }
    )
    offline = historical_features(repo, entity, "energy_prediction_v1")
    assert all(
        _same(r["predicted_energy"], o)
        for r, o in zip(rows, offline["predicted_energy"].to_pylist(), strict=True)
    )
    with pytest.raises(RequestError, match="current_hour"):
        online_features(repo, "energy_prediction_v1", ["user-1"], now=at)


def test_energy_service_through_the_feast_sdk(repo: FeatureRepo) -> None:
    """Feast's own ``get_online_features`` cannot evaluate the window states; the
    materialization also wrote each user's window values *at its anchor* (AS_OF) into
    Feast's online rows, so the SDK returns what potluck reads at AS_OF -- the
    request-context on-demand views computed from them included."""
    store = repo.store
    users = USERS[:3]
    response = store.get_online_features(
        features=store.get_feature_service("energy_prediction_v1"),
        entity_rows=[{"user_id": u, **CONTEXT} for u in users],
    ).to_dict()
    entities = {"user_id": users, **{k: [v] * 3 for k, v in CONTEXT.items()}}
    ours = online_features(repo, "energy_prediction_v1", entities, now=AS_OF)
    assert response["user_id"] == users
    names = FEATURES_OF["user_activity_features"] + FEATURES_OF["sleep_features"]
    assert any(response["activity_count_24h"])  # values, not the nulls of no rows
    for name in [*names, "predicted_energy", "energy_confidence"]:
        for i, row in enumerate(ours):
            if name in row:
                assert _same(response[name][i], row[name]), (name, response[name][i], row[name])


def test_push_online_only_updates_the_states_not_the_source(repo: FeatureRepo) -> None:
    at = AS_OF + timedelta(hours=3)
    user = "user-7"
    before = online_features(repo, "wellness_dashboard_v1", [user], now=at)[0]
    source_before = data.read_source_table(repo.settings, "activities")
    rows = pa.table(
        {
            "user_id": [user, user],
            "activity_time": pa.array(
                [at - timedelta(minutes=30), at - timedelta(minutes=5)],
                pa.timestamp("us", tz="UTC"),
            ),
            "activity_type": ["meditation", "meditation"],
            "duration_minutes": [45.0, 30.0],
            "energy_level": [9, 8],
            "mood_level": [9, 9],
        }
    )
    pushed = push_online(repo, "user_activity_push", rows, now=at)
    assert pushed.feature_views == ["user_activity_features"] and pushed.keys == 1
    after = online_features(repo, "wellness_dashboard_v1", [user], now=at)[0]
    assert after["activity_count_24h"] == before["activity_count_24h"] + 2
    assert after["total_minutes_7d"] == pytest.approx(before["total_minutes_7d"] + 75.0)
    assert after["most_common_activity_24h"] == "meditation"
    assert after["wellness_score"] >= before["wellness_score"]
    for name in FEATURES_OF["sleep_features"] + FEATURES_OF["social_features"]:
        assert _same(after[name], before[name]), name
    # the offline source is untouched: same rows, and training sets do not see the push
    assert data.read_source_table(repo.settings, "activities").equals(source_before)
    entity = pd.DataFrame({"user_id": [user], "event_timestamp": [at]})
    offline = historical_features(repo, entity, ["user_activity_features:activity_count_24h"])
    assert offline["activity_count_24h"][0].as_py() == before["activity_count_24h"]
    with pytest.raises(RequestError, match="lack"):
        push_online(repo, "user_activity_push", rows.drop_columns(["energy_level"]), now=at)


def test_energy_service_through_potluck_api(repo: FeatureRepo) -> None:
    """``POST /get-online-features`` (Feast's serving protocol on potluck's read path):
    the service with the request data as entity columns; window features evaluated at
    the request time, the same values as the read path."""
    from datetime import UTC, datetime

    from fastapi.testclient import TestClient

    from potluck.api.main import create_app

    settings = repo.settings.model_copy(update={"api_keys": {"k": "read"}})
    entities = {"user_id": ["user-1", "nobody"], **{k: [v, v] for k, v in CONTEXT.items()}}
    body = {"feature_service": "energy_prediction_v1", "entities": entities}
    auth = {"Authorization": "Bearer k"}
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        answer = client.post("/get-online-features", json=body, headers=auth)
        refused = client.post(
            "/get-online-features",
            json={**body, "entities": {"user_id": ["user-1"]}},
            headers=auth,
        )
    assert answer.status_code == 200, answer.text
    got = answer.json()
    names = got["metadata"]["feature_names"]
    columns = dict(zip(names, got["results"], strict=True))
    assert {"predicted_energy", "energy_confidence", "sleep_consistency_7d"} <= set(names)
    energy = columns["predicted_energy"]
    # AS_OF is the fixture's start, so the API's read (at the real clock) is fresh
    assert energy["statuses"][0] == "PRESENT" and energy["values"][0] is not None
    assert columns["avg_energy_7d"]["statuses"] == ["PRESENT", "NOT_FOUND"]
    same = online_features(
        repo, "energy_prediction_v1", {k: v[:1] for k, v in entities.items()}, now=datetime.now(UTC)
    )[0]
    assert energy["values"][0] == same["predicted_energy"]
    assert columns["avg_energy_7d"]["values"][0] == same["avg_energy_7d"]
    assert refused.status_code == 422 and "current_hour" in refused.text


def test_push_online_is_refused_while_a_stream_processor_owns_the_states(
    repo: FeatureRepo,
) -> None:
    """A push reads and writes the states beside the processor's commits: one would lose
    the other's events. Refused (409) for every view before any is written."""
    from potluck.errors import ConflictError
    from potluck.online._windows import _store
    from potluck.streams import open_log

    at = AS_OF + timedelta(hours=3)
    user = "user-8"
    before = online_features(repo, "wellness_dashboard_v1", [user], now=at)[0]
    log = open_log(repo)
    try:  # what a processor's re-anchor records (no state changed here)
        log.install("activities", {"user_activity_features": 0}, {})
    finally:
        log.close()
    rows = pa.table(
        {
            "user_id": [user],
            "activity_time": pa.array([at - timedelta(minutes=5)], pa.timestamp("us", tz="UTC")),
            "activity_type": ["yoga"],
            "duration_minutes": [20.0],
            "energy_level": [7],
            "mood_level": [7],
        }
    )
    try:
        with pytest.raises(ConflictError) as refused:
            push_online(repo, "user_activity_push", rows, now=at)
        assert refused.value.status_code == 409
        assert "stream processor of source 'activities'" in refused.value.message
        assert "POST /streams/activities/events" in refused.value.message
        after = online_features(repo, "wellness_dashboard_v1", [user], now=at)[0]
        assert after["activity_count_24h"] == before["activity_count_24h"]
    finally:
        _store(repo).release(["user_activity_features"])
    assert push_online(repo, "user_activity_push", rows, now=at).keys == 1  # released
