"""The Feast objects of the wellness deployment: views, on-demand views, services, push.

* five windowed views (:mod:`.views`) with the seed's names and TTLs;
* five on-demand views ``<topic>_derived`` (:mod:`.derived`) with the seed's features
  that are pure functions of window values (formulas in :mod:`.functions`);
* three on-demand views of composites: ``energy_prediction`` and ``mood_prediction``
  read the request context (``current_hour``, ``day_of_week``, ``is_weekend``);
  ``wellness_composite`` needs none. All three are *formulas*, not a trained model:
  the trained next-day energy model (``wellness_energy``, on ``ml_training_v1``) is
  served by potluck's predict path (``potluck predict``, ``POST /predictions/online``);
* services ``energy_prediction_v1``, ``mood_prediction_v1``, ``wellness_dashboard_v1``
  and ``ml_training_v1`` (window features only, no on-demand view);
* push source ``user_activity_push`` over the ``activities`` events: pushed online
  only, it folds events into the window states (``potluck.online.window_push``), never
  the source.

The UDFs import what they use inside: Feast may rebuild them from their source text.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from feast import FeatureService, FeatureView, Field, RequestSource
from feast.data_source import PushSource
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Float64, Int64, String

from potluck.domains.wellness.derived import DERIVED
from potluck.domains.wellness.views import (
    OWNER,
    SOURCES,
    VIEWS,
    exercise_features,
    listed,
    sleep_features,
    social_features,
    user,
    user_activity_features,
)

__all__ = [
    "DERIVED",
    "FEATURE_SERVICES",
    "OBJECTS",
    "PUSH_SOURCES",
    "energy_prediction",
    "mood_prediction",
    "request_context",
    "wellness_composite",
]

request_context = RequestSource(
    name="wellness_request_context",
    schema=[
        Field(name="current_hour", dtype=Int64, description="Hour of the request, 0-23"),
        Field(name="day_of_week", dtype=Int64, description="0 = Monday ... 6 = Sunday"),
        Field(name="is_weekend", dtype=Int64, description="1 on Saturday and Sunday"),
    ],
    description="What the caller knows at request time.",
)


@on_demand_feature_view(  # type: ignore[untyped-decorator]
    sources=[
        user_activity_features[["avg_energy_7d", "activity_count_7d"]],
        sleep_features[["avg_sleep_duration_7d", "sleep_quality_score", "sleep_sessions_7d"]],
        exercise_features[["exercise_minutes_7d", "high_intensity_count_7d", "exercise_count_7d"]],
        request_context,
    ],
    schema=[
        Field(name="predicted_energy", dtype=Float64),
        Field(name="energy_confidence", dtype=Float64),
    ],
    mode="pandas",
    description=(
        "A formula, not a trained model. predicted_energy = clip(reference_energy + "
        "circadian(current_hour) + 0.3 is_weekend, 1, 10), reference_energy = clip(2.2 + "
        "0.6 avg_energy_7d + 0.5 (avg_sleep_duration_7d/60 - 7) + 1.5 (sleep_quality_score "
        "- 0.7) + 0.004 exercise_minutes_7d - 0.25 max(0, high_intensity_count_7d - 3), 1, "
        "10); circadian +0.3 at 9-12 h, -0.5 at 13-16 h, -0.8 at 21-6 h. energy_confidence = "
        "0.3 + 0.7 mean(min(1, activities_7d/7), min(1, nights_7d/7), min(1, workouts_7d/3))."
    ),
    owner=OWNER,
)
def energy_prediction(inputs: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    from potluck.domains.wellness import functions as fn

    reference = fn.reference_energy(
        inputs["avg_energy_7d"],
        inputs["avg_sleep_duration_7d"],
        inputs["sleep_quality_score"],
        inputs["exercise_minutes_7d"],
        inputs["high_intensity_count_7d"],
    )
    out = pd.DataFrame(index=inputs.index)
    out["predicted_energy"] = fn.predicted_energy(
        reference, inputs["current_hour"], inputs["is_weekend"]
    )
    out["energy_confidence"] = fn.energy_confidence(
        inputs["activity_count_7d"], inputs["sleep_sessions_7d"], inputs["exercise_count_7d"]
    )
    return out


@on_demand_feature_view(  # type: ignore[untyped-decorator]
    sources=[
        user_activity_features[["avg_mood_7d", "activity_count_7d"]],
        sleep_features[["sleep_quality_score", "sleep_sessions_7d"]],
        social_features[["posts_7d", "comments_7d", "likes_given_7d", "friend_interactions_7d"]],
        exercise_features[["exercise_minutes_7d"]],
        request_context,
    ],
    schema=[
        Field(name="predicted_mood", dtype=Float64),
        Field(name="mood_confidence", dtype=Float64),
    ],
    mode="pandas",
    description=(
        "A formula, not a trained model. predicted_mood = clip(avg_mood_7d + 2 "
        "(sleep_quality_score - 0.7) + (social_engagement_score - 0.3) + 0.003 "
        "exercise_minutes_7d + 0.3 is_weekend + circadian(current_hour)/2, 1, 10); "
        "mood_confidence = 0.3 + 0.7 mean(min(1, activities_7d/7), min(1, nights_7d/7), "
        "min(1, (posts + comments + friend interactions)_7d/7))."
    ),
    owner=OWNER,
)
def mood_prediction(inputs: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    from potluck.domains.wellness import functions as fn

    engagement = fn.social_engagement_score(
        inputs["posts_7d"],
        inputs["comments_7d"],
        inputs["likes_given_7d"],
        inputs["friend_interactions_7d"],
    )
    social_actions = (
        pd.to_numeric(inputs["posts_7d"], errors="coerce").fillna(0)
        + pd.to_numeric(inputs["comments_7d"], errors="coerce").fillna(0)
        + pd.to_numeric(inputs["friend_interactions_7d"], errors="coerce").fillna(0)
    )
    out = pd.DataFrame(index=inputs.index)
    out["predicted_mood"] = fn.predicted_mood(
        inputs["avg_mood_7d"],
        inputs["sleep_quality_score"],
        engagement,
        inputs["exercise_minutes_7d"],
        inputs["current_hour"],
        inputs["is_weekend"],
    )
    out["mood_confidence"] = fn.mood_confidence(
        inputs["activity_count_7d"], inputs["sleep_sessions_7d"], social_actions
    )
    return out


@on_demand_feature_view(  # type: ignore[untyped-decorator]
    sources=[
        sleep_features[["avg_sleep_duration_7d", "sleep_quality_score"]],
        exercise_features[["exercise_minutes_7d"]],
        user_activity_features[["total_minutes_7d"]],
    ],
    schema=[
        Field(name="wellness_score", dtype=Float64),
        Field(name="wellness_trend", dtype=String),
    ],
    mode="pandas",
    description=(
        "A formula. wellness_score = 0.4 sleep + 0.3 exercise + 0.3 activity, with sleep = "
        "0.5 min(1, avg_sleep_duration_7d/480) + 0.5 sleep_quality_score, exercise = min(1, "
        "exercise_minutes_7d/150), activity = min(1, total_minutes_7d/840); wellness_trend: "
        "excellent >= 0.8 > good >= 0.6 > fair >= 0.4 > needs_improvement."
    ),
    owner=OWNER,
)
def wellness_composite(inputs: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    from potluck.domains.wellness import functions as fn

    score = fn.wellness_score(
        fn.sleep_score(inputs["avg_sleep_duration_7d"], inputs["sleep_quality_score"]),
        fn.exercise_score(inputs["exercise_minutes_7d"]),
        fn.activity_score(inputs["total_minutes_7d"]),
    )
    out = pd.DataFrame(index=inputs.index)
    out["wellness_score"] = score
    out["wellness_trend"] = fn.wellness_trend(score)
    return out


def _topics(*views: FeatureView) -> list[Any]:
    """Each view's listed features, then its derived on-demand view."""
    out: list[Any] = []
    for view in views:
        out += [view[listed(view)], DERIVED[view.name]]
    return out


energy_prediction_v1 = FeatureService(
    name="energy_prediction_v1",
    features=[
        *_topics(user_activity_features, sleep_features, exercise_features),
        energy_prediction,
    ],
    description="Energy prediction: activity, sleep, exercise and the energy composite "
    "(needs current_hour, day_of_week, is_weekend).",
    owner=OWNER,
)
mood_prediction_v1 = FeatureService(
    name="mood_prediction_v1",
    features=[
        *_topics(sleep_features, social_features, exercise_features, user_activity_features),
        mood_prediction,
    ],
    description="Mood prediction: sleep, social, exercise, activity and the mood composite "
    "(needs current_hour, day_of_week, is_weekend).",
    owner=OWNER,
)
wellness_dashboard_v1 = FeatureService(
    name="wellness_dashboard_v1",
    features=[*_topics(*VIEWS), wellness_composite],
    description="Every feature of the five topics plus the wellness composite.",
    owner=OWNER,
)
ml_training_v1 = FeatureService(
    name="ml_training_v1",
    features=[view[listed(view)] for view in VIEWS],
    description="The five views' window features only (no on-demand view): the trained "
    "next-day energy model's inputs.",
    owner=OWNER,
)
FEATURE_SERVICES = [energy_prediction_v1, mood_prediction_v1, wellness_dashboard_v1, ml_training_v1]

# Online only, as in the seed: rows of the ``activities`` event schema, folded into the
# window states of every view over ``activities`` (see .push); the source is untouched.
user_activity_push = PushSource(name="user_activity_push", batch_source=SOURCES["activities"])
PUSH_SOURCES = [user_activity_push]

OBJECTS = [
    user,
    *VIEWS,
    *DERIVED.values(),
    energy_prediction,
    mood_prediction,
    wellness_composite,
    *FEATURE_SERVICES,
    user_activity_push,  # registered on its own: no view takes it as its stream source
]
