"""The five windowed feature views of the wellness deployment and their window features.

Each view aggregates one raw event source per user with the rule of
:mod:`potluck.windows.spec`: the value at time t over window w aggregates the events
with ``t - w < event_time <= t``. The views keep the seed's names and TTLs; a view's
TTL is also its online *horizon*: materialized at ``A``, its values are exact for
reads up to ``A + TTL`` and reported expired after that (so ``materialize --every 6h``
keeps every view fresh). Features of the seed that are functions of window values
(consistency, scores, rates) are on-demand views over these (:mod:`.features`); the
window features they need and the seed does not list are *helpers*, named in
:data:`HELPERS`, read by those views and served by no feature service.
"""

from __future__ import annotations

from datetime import timedelta

from feast import Entity, FeatureView, ValueType

from potluck.domains.wellness.schema import ACTIVITY_TYPES, SOURCE_SCHEMAS, TIMESTAMP_FIELDS
from potluck.offline.source import PotluckSource
from potluck.windows import Filter, WindowFeature
from potluck.windows.declare import windowed_view

__all__ = [
    "HELPERS",
    "OWNER",
    "SOURCES",
    "TTLS",
    "VIEWS",
    "WINDOW_FEATURES",
    "exercise_features",
    "integration_features",
    "listed",
    "sleep_features",
    "social_features",
    "user",
    "user_activity_features",
]

OWNER = "wellness-ml@potluck.example"
H24, D7, D30 = timedelta(hours=24), timedelta(days=7), timedelta(days=30)

user = Entity(
    name="user",
    join_keys=["user_id"],
    value_type=ValueType.STRING,
    description="A user of the wellness app, keyed user-123.",
)

SOURCES = {
    name: PotluckSource(name=name, timestamp_field=TIMESTAMP_FIELDS[name])
    for name in (
        "activities",
        "sleep_sessions",
        "exercise_sessions",
        "social_events",
        "device_integrations",
    )
}

W = WindowFeature
WINDOW_FEATURES: dict[str, list[WindowFeature]] = {
    "user_activity_features": [
        W("activity_count_24h", None, "count", H24),
        W("activity_count_7d", None, "count", D7),
        W("activity_count_30d", None, "count", D30),
        W("total_minutes_24h", "duration_minutes", "sum", H24),
        W("total_minutes_7d", "duration_minutes", "sum", D7),
        W("total_minutes_30d", "duration_minutes", "sum", D30),
        W("activity_diversity_7d", "activity_type", "count_distinct", D7),
        W("activity_diversity_30d", "activity_type", "count_distinct", D30),
        W("avg_energy_7d", "energy_level", "mean", D7),
        W("avg_mood_7d", "mood_level", "mean", D7),
        # helpers of most_common_activity_24h: activities of each type in 24 hours
        *(
            W(
                f"{kind}_count_24h",
                None,
                "count",
                H24,
                filter=(Filter("activity_type", "==", kind),),
            )
            for kind in ACTIVITY_TYPES
        ),
    ],
    "sleep_features": [
        W("avg_sleep_duration_7d", "duration_minutes", "mean", D7),
        W("avg_sleep_duration_30d", "duration_minutes", "mean", D30),
        W("avg_bedtime_hour_7d", "bedtime_hour", "mean", D7),
        W("sleep_sessions_7d", None, "count", D7),
        W("sleep_quality_score", "quality_score", "mean", D7),
        W("avg_deep_sleep_minutes_7d", "deep_sleep_minutes", "mean", D7),
        W("avg_rem_sleep_minutes_7d", "rem_sleep_minutes", "mean", D7),
        W("sleep_duration_stddev_7d", "duration_minutes", "stddev", D7),  # helper
        W("sleep_minutes_7d", "duration_minutes", "sum", D7),  # helper
    ],
    "exercise_features": [
        W("exercise_count_7d", None, "count", D7),
        W("exercise_count_30d", None, "count", D30),
        W("exercise_minutes_7d", "duration_minutes", "sum", D7),
        W("exercise_minutes_30d", "duration_minutes", "sum", D30),
        W("avg_exercise_duration_7d", "duration_minutes", "mean", D7),
        W("avg_energy_after_exercise_7d", "energy_after", "mean", D7),
        W(
            "high_intensity_count_7d",
            None,
            "count",
            D7,
            filter=(Filter("intensity", "==", "high"),),
        ),
        W("exercise_days_7d", "session_date", "count_distinct", D7),  # helper
        W("exercise_types_7d", "exercise_type", "count_distinct", D7),  # helper
    ],
    "social_features": [
        W("friend_count", "friend_count", "last", D30),
        W("posts_7d", "posts", "sum", D7),
        W("comments_7d", "comments", "sum", D7),
        W("likes_received_7d", "likes_received", "sum", D7),
        W("likes_given_7d", "likes_given", "sum", D7),
        W("friend_interactions_7d", "friend_interactions", "sum", D7),
    ],
    "integration_features": [
        W(
            "active_integrations_count",
            "provider",
            "count_distinct",
            D7,
            filter=(Filter("sync_status", "==", "success"),),
        ),
        W("avg_heart_rate_7d", "avg_heart_rate", "mean", D7),
        W("avg_steps_7d", "steps", "mean", D7),
        W("avg_calories_7d", "calories", "mean", D7),
        # helpers of last_sync_hours_ago, data_completeness_score, sync_reliability_score
        W("minutes_since_last_sync", None, "time_since_last", D30, unit="minutes"),
        W("syncs_7d", None, "count", D7),
        W(
            "successful_syncs_7d",
            None,
            "count",
            D7,
            filter=(Filter("sync_status", "==", "success"),),
        ),
        W("heart_rate_readings_7d", "avg_heart_rate", "count", D7),
        W("steps_readings_7d", "steps", "count", D7),
        W("calories_readings_7d", "calories", "count", D7),
    ],
}
HELPERS = frozenset(
    [f"{kind}_count_24h" for kind in ACTIVITY_TYPES]
    + ["sleep_duration_stddev_7d", "sleep_minutes_7d", "exercise_days_7d", "exercise_types_7d"]
    + ["minutes_since_last_sync", "syncs_7d", "successful_syncs_7d"]
    + ["heart_rate_readings_7d", "steps_readings_7d", "calories_readings_7d"]
)
TTLS = {
    "user_activity_features": timedelta(hours=24),
    "sleep_features": timedelta(hours=12),
    "exercise_features": timedelta(hours=12),
    "social_features": timedelta(hours=24),
    "integration_features": timedelta(hours=6),
}
_SOURCE_OF = {
    "user_activity_features": "activities",
    "sleep_features": "sleep_sessions",
    "exercise_features": "exercise_sessions",
    "social_features": "social_events",
    "integration_features": "device_integrations",
}
_DESCRIPTIONS = {
    "user_activity_features": "Logged activities per user: counts, minutes, variety, energy, mood.",
    "sleep_features": "Sleep sessions per user (by wake time): duration, bedtime, quality.",
    "exercise_features": "Workouts per user: counts, minutes, energy after, intensity.",
    "social_features": "App sessions per user: posts, comments, likes, friend interactions.",
    "integration_features": "Device syncs per user: providers, vitals, sync success.",
}


def _view(name: str) -> FeatureView:
    source = _SOURCE_OF[name]
    return windowed_view(
        name=name,
        entities=[user],
        source=SOURCES[source],
        source_schema=SOURCE_SCHEMAS[source],
        features=WINDOW_FEATURES[name],
        horizon=TTLS[name],
        ttl=TTLS[name],
        description=f"{_DESCRIPTIONS[name]} TTL {TTLS[name]} (the online horizon).",
        owner=OWNER,
        tags={"domain": "wellness"},
    )


user_activity_features = _view("user_activity_features")
sleep_features = _view("sleep_features")
exercise_features = _view("exercise_features")
social_features = _view("social_features")
integration_features = _view("integration_features")
VIEWS = [
    user_activity_features,
    sleep_features,
    exercise_features,
    social_features,
    integration_features,
]


def listed(view: FeatureView) -> list[str]:
    """The view's features the seed lists (its helpers left out)."""
    return [f.name for f in view.features if f.name not in HELPERS]
