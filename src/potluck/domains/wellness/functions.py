"""The wellness formulas: pure functions of window features (and request context).

Every function takes and returns pandas Series (or numbers broadcast against them),
row by row, null in -> null out unless its docstring says otherwise. The docstrings
are the formulas the feature descriptions and docs/WELLNESS.md quote. The on-demand
views of :mod:`.features` call them offline (training sets) and online (reads), and
:mod:`.synth` calls :func:`reference_energy` to draw its label, so a formula is
written once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = [
    "TRENDS",
    "activity_score",
    "avg_post_likes",
    "circadian_adjustment",
    "comment_rate_7d",
    "data_completeness_score",
    "energy_confidence",
    "exercise_consistency_score",
    "exercise_score",
    "last_sync_hours_ago",
    "mood_confidence",
    "most_common",
    "predicted_energy",
    "predicted_mood",
    "reference_energy",
    "sleep_consistency_7d",
    "sleep_debt_minutes",
    "sleep_score",
    "social_engagement_score",
    "sync_reliability_score",
    "wellness_score",
    "wellness_trend",
    "workout_variety_score_7d",
]

TRENDS = ("excellent", "good", "fair", "needs_improvement")
Num = pd.Series


def _num(values: object, index: pd.Index | None = None) -> pd.Series:
    series = values if isinstance(values, pd.Series) else pd.Series(values, index=index)
    return pd.to_numeric(series, errors="coerce").astype("float64")


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    num, den = _num(num), _num(den)
    return (num / den.where(den > 0)).astype("float64")


def _clip01(values: pd.Series) -> pd.Series:
    return values.clip(lower=0.0, upper=1.0)


def _cover(values: pd.Series, full: float) -> pd.Series:
    """min(1, values / full), null counted as 0."""
    return _clip01(_num(values).fillna(0.0) / full)


# ------------------------------------------------------------------ activity
def most_common(counts: dict[str, pd.Series], labels: Sequence[str]) -> pd.Series:
    """The label whose count is largest (ties: the first label alphabetically); null
    when every count is 0 or null."""
    frame = pd.DataFrame({label: _num(counts[label]).fillna(0.0) for label in labels})
    best = frame.idxmax(axis=1).astype(object)
    return best.where(frame.max(axis=1) > 0, None)


# ------------------------------------------------------------------ sleep
def sleep_consistency_7d(stddev_minutes: pd.Series, mean_minutes: pd.Series) -> pd.Series:
    """clip(1 - stddev / mean of nightly sleep minutes over 7 days, 0, 1): 1 is the same
    duration every night; null with fewer than two nights."""
    return _clip01(1.0 - _ratio(stddev_minutes, mean_minutes))


def sleep_debt_minutes(nights_7d: pd.Series, minutes_7d: pd.Series) -> pd.Series:
    """max(0, 480 x nights logged in 7 days - minutes slept in them): minutes short of
    8 hours a logged night (0 with no nights)."""
    return (480.0 * _num(nights_7d).fillna(0.0) - _num(minutes_7d).fillna(0.0)).clip(lower=0.0)


# ------------------------------------------------------------------ exercise
def exercise_consistency_score(exercise_days_7d: pd.Series) -> pd.Series:
    """min(1, distinct days with a workout in 7 days / 7)."""
    return _cover(exercise_days_7d, 7.0)


def workout_variety_score_7d(exercise_types_7d: pd.Series) -> pd.Series:
    """min(1, distinct workout types in 7 days / 4)."""
    return _cover(exercise_types_7d, 4.0)


# ------------------------------------------------------------------ social
def social_engagement_score(
    posts_7d: pd.Series,
    comments_7d: pd.Series,
    likes_given_7d: pd.Series,
    friend_interactions_7d: pd.Series,
) -> pd.Series:
    """min(1, (2 posts + comments + 0.1 likes given + friend interactions) / 60), over 7
    days."""
    total = (
        2.0 * _num(posts_7d).fillna(0.0)
        + _num(comments_7d).fillna(0.0)
        + 0.1 * _num(likes_given_7d).fillna(0.0)
        + _num(friend_interactions_7d).fillna(0.0)
    )
    return _clip01(total / 60.0)


def avg_post_likes(likes_received_7d: pd.Series, posts_7d: pd.Series) -> pd.Series:
    """likes received / posts over 7 days; null without a post."""
    return _ratio(likes_received_7d, posts_7d)


def comment_rate_7d(comments_7d: pd.Series) -> pd.Series:
    """comments in 7 days / 7: comments per day."""
    return _num(comments_7d).fillna(0.0) / 7.0


# ------------------------------------------------------------------ integrations
def last_sync_hours_ago(minutes_since_last_sync: pd.Series) -> pd.Series:
    """minutes since the latest sync (30-day window) / 60; null with no sync in 30 days."""
    return _num(minutes_since_last_sync) / 60.0


def data_completeness_score(
    heart_rate_readings_7d: pd.Series,
    steps_readings_7d: pd.Series,
    calories_readings_7d: pd.Series,
    syncs_7d: pd.Series,
) -> pd.Series:
    """(syncs with heart rate + with steps + with calories) / (3 x syncs), over 7 days:
    the share of expected vitals that arrived; null without a sync."""
    got = (
        _num(heart_rate_readings_7d).fillna(0.0)
        + _num(steps_readings_7d).fillna(0.0)
        + _num(calories_readings_7d).fillna(0.0)
    )
    return _ratio(got, 3.0 * _num(syncs_7d))


def sync_reliability_score(successful_syncs_7d: pd.Series, syncs_7d: pd.Series) -> pd.Series:
    """successful syncs / syncs over 7 days; null without a sync."""
    return _ratio(successful_syncs_7d, syncs_7d)


# ------------------------------------------------------------------ composites
def reference_energy(
    avg_energy_7d: pd.Series,
    avg_sleep_duration_7d: pd.Series,
    sleep_quality_score: pd.Series,
    exercise_minutes_7d: pd.Series,
    high_intensity_count_7d: pd.Series,
) -> pd.Series:
    """clip(2.2 + 0.6 E + 0.5 (S - 7) + 1.5 (Q - 0.7) + 0.004 X - 0.25 max(0, H - 3), 1, 10)
    with E = avg_energy_7d (5.5 if null), S = avg_sleep_duration_7d / 60 (7 if null),
    Q = sleep_quality_score (0.7 if null), X = exercise_minutes_7d, H =
    high_intensity_count_7d (0 if null). The synthetic generator draws next-day energy
    from exactly this (plus noise), so it is also the oracle."""
    e = _num(avg_energy_7d).fillna(5.5)
    s = (_num(avg_sleep_duration_7d) / 60.0).fillna(7.0)
    q = _num(sleep_quality_score).fillna(0.7)
    x = _num(exercise_minutes_7d).fillna(0.0)
    h = _num(high_intensity_count_7d).fillna(0.0)
    value = (
        2.2
        + 0.6 * e
        + 0.5 * (s - 7.0)
        + 1.5 * (q - 0.7)
        + 0.004 * x
        - 0.25 * (h - 3.0).clip(lower=0.0)
    )
    return value.clip(lower=1.0, upper=10.0)


def circadian_adjustment(current_hour: pd.Series) -> pd.Series:
    """+0.3 from 09:00 to 11:59, -0.5 from 13:00 to 15:59 (the afternoon dip), -0.8 from
    21:00 to 05:59, else 0."""
    hour = _num(current_hour).fillna(12.0)
    out = np.select(
        [(hour >= 9) & (hour < 12), (hour >= 13) & (hour < 16), (hour >= 21) | (hour < 6)],
        [0.3, -0.5, -0.8],
        default=0.0,
    )
    return pd.Series(out, index=hour.index, dtype="float64")


def predicted_energy(reference: pd.Series, current_hour: pd.Series, is_weekend: pd.Series) -> Num:
    """clip(reference_energy + circadian_adjustment(current_hour) + 0.3 is_weekend, 1, 10)."""
    weekend = _num(is_weekend).fillna(0.0)
    value = _num(reference) + circadian_adjustment(current_hour) + 0.3 * weekend
    return value.clip(lower=1.0, upper=10.0).round(3)


def energy_confidence(
    activity_count_7d: pd.Series, sleep_sessions_7d: pd.Series, exercise_count_7d: pd.Series
) -> pd.Series:
    """0.3 + 0.7 x mean(min(1, activities/7), min(1, nights/7), min(1, workouts/3)) over
    7 days: how much recent data the prediction rests on (0.3 with none)."""
    coverage = (
        _cover(activity_count_7d, 7.0)
        + _cover(sleep_sessions_7d, 7.0)
        + _cover(exercise_count_7d, 3.0)
    ) / 3.0
    return (0.3 + 0.7 * coverage).round(3)


def predicted_mood(
    avg_mood_7d: pd.Series,
    sleep_quality_score: pd.Series,
    engagement: pd.Series,
    exercise_minutes_7d: pd.Series,
    current_hour: pd.Series,
    is_weekend: pd.Series,
) -> pd.Series:
    """clip(M + 2 (Q - 0.7) + (social_engagement_score - 0.3) + 0.003 X + 0.3 is_weekend
    + circadian_adjustment(current_hour) / 2, 1, 10) with M = avg_mood_7d (5.5 if null),
    Q = sleep_quality_score (0.7 if null), X = exercise_minutes_7d."""
    m = _num(avg_mood_7d).fillna(5.5)
    q = _num(sleep_quality_score).fillna(0.7)
    x = _num(exercise_minutes_7d).fillna(0.0)
    value = (
        m
        + 2.0 * (q - 0.7)
        + (_num(engagement).fillna(0.0) - 0.3)
        + 0.003 * x
        + 0.3 * _num(is_weekend).fillna(0.0)
        + circadian_adjustment(current_hour) / 2.0
    )
    return value.clip(lower=1.0, upper=10.0).round(3)


def mood_confidence(
    activity_count_7d: pd.Series, sleep_sessions_7d: pd.Series, social_actions_7d: pd.Series
) -> pd.Series:
    """0.3 + 0.7 x mean(min(1, activities/7), min(1, nights/7), min(1, (posts + comments
    + friend interactions)/7)) over 7 days."""
    coverage = (
        _cover(activity_count_7d, 7.0)
        + _cover(sleep_sessions_7d, 7.0)
        + _cover(social_actions_7d, 7.0)
    ) / 3.0
    return (0.3 + 0.7 * coverage).round(3)


def sleep_score(avg_sleep_duration_7d: pd.Series, sleep_quality_score: pd.Series) -> pd.Series:
    """0.5 min(1, avg_sleep_duration_7d / 480) + 0.5 sleep_quality_score (nulls as 0)."""
    return 0.5 * _cover(avg_sleep_duration_7d, 480.0) + 0.5 * _clip01(
        _num(sleep_quality_score).fillna(0.0)
    )


def exercise_score(exercise_minutes_7d: pd.Series) -> pd.Series:
    """min(1, exercise_minutes_7d / 150) (150 minutes a week)."""
    return _cover(exercise_minutes_7d, 150.0)


def activity_score(total_minutes_7d: pd.Series) -> pd.Series:
    """min(1, total_minutes_7d / 840) (two hours a day)."""
    return _cover(total_minutes_7d, 840.0)


def wellness_score(sleep: pd.Series, exercise: pd.Series, activity: pd.Series) -> pd.Series:
    """0.4 sleep_score + 0.3 exercise_score + 0.3 activity_score, in [0, 1]."""
    return (0.4 * sleep + 0.3 * exercise + 0.3 * activity).round(4)


def wellness_trend(score: pd.Series) -> pd.Series:
    """excellent >= 0.8 > good >= 0.6 > fair >= 0.4 > needs_improvement."""
    s = _num(score)
    out = np.select([s >= 0.8, s >= 0.6, s >= 0.4], list(TRENDS[:3]), default=TRENDS[3])
    return pd.Series(out, index=s.index, dtype=object).where(s.notna(), None)
