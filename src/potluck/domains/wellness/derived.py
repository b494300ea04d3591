"""The five ``<topic>_derived`` on-demand views: the seed's features that are pure
functions of window values (consistency, scores, rates), one view per windowed view.

Formulas in :mod:`.functions` (each view's description states them); the UDFs import
what they use inside, as Feast may rebuild them from their source text. They read no
request data, so training sets and online reads compute them alike.
"""

from __future__ import annotations

import pandas as pd
from feast import Field
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Float64, String

from potluck.domains.wellness.schema import ACTIVITY_TYPES
from potluck.domains.wellness.views import (
    OWNER,
    exercise_features,
    integration_features,
    sleep_features,
    social_features,
    user_activity_features,
)

__all__ = [
    "DERIVED",
    "exercise_derived",
    "integration_derived",
    "sleep_derived",
    "social_derived",
    "user_activity_derived",
]


@on_demand_feature_view(  # type: ignore[untyped-decorator]
    sources=[user_activity_features[[f"{k}_count_24h" for k in ACTIVITY_TYPES]]],
    schema=[Field(name="most_common_activity_24h", dtype=String)],
    mode="pandas",
    description=(
        "most_common_activity_24h: the activity type logged most often in 24 hours "
        "(argmax of the per-type 24 h counts; ties to the first alphabetically; null "
        "with none)."
    ),
    owner=OWNER,
)
def user_activity_derived(inputs: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    from potluck.domains.wellness import functions as fn
    from potluck.domains.wellness.schema import ACTIVITY_TYPES

    counts = {k: inputs[f"{k}_count_24h"] for k in ACTIVITY_TYPES}
    out = pd.DataFrame(index=inputs.index)
    out["most_common_activity_24h"] = fn.most_common(counts, ACTIVITY_TYPES)
    return out


@on_demand_feature_view(  # type: ignore[untyped-decorator]
    sources=[
        sleep_features[
            [
                "sleep_duration_stddev_7d",
                "avg_sleep_duration_7d",
                "sleep_sessions_7d",
                "sleep_minutes_7d",
            ]
        ]
    ],
    schema=[
        Field(name="sleep_consistency_7d", dtype=Float64),
        Field(name="sleep_debt_minutes", dtype=Float64),
    ],
    mode="pandas",
    description=(
        "sleep_consistency_7d = clip(1 - stddev / mean of nightly minutes over 7 d, 0, 1); "
        "sleep_debt_minutes = max(0, 480 x nights in 7 d - minutes slept in them)."
    ),
    owner=OWNER,
)
def sleep_derived(inputs: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    from potluck.domains.wellness import functions as fn

    out = pd.DataFrame(index=inputs.index)
    out["sleep_consistency_7d"] = fn.sleep_consistency_7d(
        inputs["sleep_duration_stddev_7d"], inputs["avg_sleep_duration_7d"]
    )
    out["sleep_debt_minutes"] = fn.sleep_debt_minutes(
        inputs["sleep_sessions_7d"], inputs["sleep_minutes_7d"]
    )
    return out


@on_demand_feature_view(  # type: ignore[untyped-decorator]
    sources=[exercise_features[["exercise_days_7d", "exercise_types_7d"]]],
    schema=[
        Field(name="exercise_consistency_score", dtype=Float64),
        Field(name="workout_variety_score_7d", dtype=Float64),
    ],
    mode="pandas",
    description=(
        "exercise_consistency_score = min(1, distinct workout days in 7 d / 7); "
        "workout_variety_score_7d = min(1, distinct workout types in 7 d / 4)."
    ),
    owner=OWNER,
)
def exercise_derived(inputs: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    from potluck.domains.wellness import functions as fn

    out = pd.DataFrame(index=inputs.index)
    out["exercise_consistency_score"] = fn.exercise_consistency_score(inputs["exercise_days_7d"])
    out["workout_variety_score_7d"] = fn.workout_variety_score_7d(inputs["exercise_types_7d"])
    return out


@on_demand_feature_view(  # type: ignore[untyped-decorator]
    sources=[
        social_features[
            [
                "posts_7d",
                "comments_7d",
                "likes_given_7d",
                "likes_received_7d",
                "friend_interactions_7d",
            ]
        ]
    ],
    schema=[
        Field(name="social_engagement_score", dtype=Float64),
        Field(name="avg_post_likes", dtype=Float64),
        Field(name="comment_rate_7d", dtype=Float64),
    ],
    mode="pandas",
    description=(
        "social_engagement_score = min(1, (2 posts + comments + 0.1 likes given + friend "
        "interactions) / 60) over 7 d; avg_post_likes = likes received / posts over 7 d "
        "(null without a post); comment_rate_7d = comments in 7 d / 7."
    ),
    owner=OWNER,
)
def social_derived(inputs: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    from potluck.domains.wellness import functions as fn

    out = pd.DataFrame(index=inputs.index)
    out["social_engagement_score"] = fn.social_engagement_score(
        inputs["posts_7d"],
        inputs["comments_7d"],
        inputs["likes_given_7d"],
        inputs["friend_interactions_7d"],
    )
    out["avg_post_likes"] = fn.avg_post_likes(inputs["likes_received_7d"], inputs["posts_7d"])
    out["comment_rate_7d"] = fn.comment_rate_7d(inputs["comments_7d"])
    return out


@on_demand_feature_view(  # type: ignore[untyped-decorator]
    sources=[
        integration_features[
            [
                "minutes_since_last_sync",
                "syncs_7d",
                "successful_syncs_7d",
                "heart_rate_readings_7d",
                "steps_readings_7d",
                "calories_readings_7d",
            ]
        ]
    ],
    schema=[
        Field(name="last_sync_hours_ago", dtype=Float64),
        Field(name="data_completeness_score", dtype=Float64),
        Field(name="sync_reliability_score", dtype=Float64),
    ],
    mode="pandas",
    description=(
        "last_sync_hours_ago = minutes since the latest sync in 30 d / 60; "
        "data_completeness_score = (syncs with heart rate + with steps + with calories) / "
        "(3 x syncs) over 7 d; sync_reliability_score = successful syncs / syncs over 7 d."
    ),
    owner=OWNER,
)
def integration_derived(inputs: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    from potluck.domains.wellness import functions as fn

    out = pd.DataFrame(index=inputs.index)
    out["last_sync_hours_ago"] = fn.last_sync_hours_ago(inputs["minutes_since_last_sync"])
    out["data_completeness_score"] = fn.data_completeness_score(
        inputs["heart_rate_readings_7d"],
        inputs["steps_readings_7d"],
        inputs["calories_readings_7d"],
        inputs["syncs_7d"],
    )
    out["sync_reliability_score"] = fn.sync_reliability_score(
        inputs["successful_syncs_7d"], inputs["syncs_7d"]
    )
    return out


DERIVED = {
    "user_activity_features": user_activity_derived,
    "sleep_features": sleep_derived,
    "exercise_features": exercise_derived,
    "social_features": social_derived,
    "integration_features": integration_derived,
}
