"""The data contract of the wellness deployment: five raw event sources and the label.

Every timestamp is ``timestamp[us, tz=UTC]``; ``user_id`` is a string like
``user-123``. Each source is an append-only event log (one row per event); the
features are sliding-window aggregations of these events (see :mod:`.features`).
Columns a device or app reports with the event (a sleep session's duration and
bedtime hour, an exercise session's local date) are stored with it, so every
window feature reads a column and no feature needs a second pass over the events.
"""

from __future__ import annotations

import pyarrow as pa

__all__ = [
    "ACTIVITY_TYPES",
    "EXERCISE_TYPES",
    "INTENSITIES",
    "JOIN_KEY",
    "LABEL",
    "LABEL_SOURCE",
    "ORACLE",
    "PROVIDERS",
    "SOURCE_SCHEMAS",
    "TIMESTAMP_FIELDS",
]

JOIN_KEY = "user_id"
LABEL_SOURCE = "daily_energy"
LABEL = "next_day_energy"
ORACLE = "expected_next_day_energy"
TS = pa.timestamp("us", tz="UTC")

ACTIVITY_TYPES = (
    "cooking",
    "gaming",
    "meditation",
    "reading",
    "socializing",
    "walking",
    "work",
    "yoga",
)
EXERCISE_TYPES = ("cycling", "hiit", "running", "strength", "swimming", "yoga")
INTENSITIES = ("low", "moderate", "high")
PROVIDERS = ("apple_health", "fitbit", "garmin", "google_fit", "oura")

SOURCE_SCHEMAS: dict[str, pa.Schema] = {
    # a logged activity: what, how long, and the energy and mood the user reported (1-10)
    "activities": pa.schema(
        [
            ("user_id", pa.string()),
            ("activity_time", TS),
            ("activity_type", pa.string()),
            ("duration_minutes", pa.float64()),
            ("energy_level", pa.int64()),
            ("mood_level", pa.int64()),
        ]
    ),
    # one night: start and end, minutes asleep, deep and REM minutes, the tracker's
    # quality score (0-1); bedtime_hour is the start as hours after the midnight
    # before it (23:30 -> 23.5, 00:30 the next day -> 24.5), so averages never wrap
    "sleep_sessions": pa.schema(
        [
            ("user_id", pa.string()),
            ("sleep_start", TS),
            ("sleep_end", TS),
            ("duration_minutes", pa.float64()),
            ("deep_sleep_minutes", pa.float64()),
            ("rem_sleep_minutes", pa.float64()),
            ("quality_score", pa.float64()),
            ("bedtime_hour", pa.float64()),
        ]
    ),
    # one workout: type, minutes, intensity (low | moderate | high), the energy reported
    # after it (1-10) and its local date (YYYY-MM-DD)
    "exercise_sessions": pa.schema(
        [
            ("user_id", pa.string()),
            ("exercise_time", TS),
            ("exercise_type", pa.string()),
            ("duration_minutes", pa.float64()),
            ("intensity", pa.string()),
            ("energy_after", pa.int64()),
            ("session_date", pa.string()),
        ]
    ),
    # one app session: what the user did in it, and their friend count at the time
    "social_events": pa.schema(
        [
            ("user_id", pa.string()),
            ("event_time", TS),
            ("posts", pa.int64()),
            ("comments", pa.int64()),
            ("likes_given", pa.int64()),
            ("likes_received", pa.int64()),
            ("friend_interactions", pa.int64()),
            ("friend_count", pa.int64()),
        ]
    ),
    # one device sync: provider, success | failed, and the vitals it delivered (null when
    # the sync failed or the device does not measure them)
    "device_integrations": pa.schema(
        [
            ("user_id", pa.string()),
            ("sync_time", TS),
            ("provider", pa.string()),
            ("sync_status", pa.string()),
            ("avg_heart_rate", pa.float64()),
            ("steps", pa.int64()),
            ("calories", pa.float64()),
        ]
    ),
    # the label: at 21:00 on day d, the user's energy on day d + 1 (a continuous 1-10
    # level) and the generator's expected value of it given what was known at 21:00
    "daily_energy": pa.schema(
        [
            ("user_id", pa.string()),
            ("event_timestamp", TS),
            (LABEL, pa.float64()),
            (ORACLE, pa.float64()),
        ]
    ),
}

TIMESTAMP_FIELDS = {
    "activities": "activity_time",
    "sleep_sessions": "sleep_end",
    "exercise_sessions": "exercise_time",
    "social_events": "event_time",
    "device_integrations": "sync_time",
    "daily_energy": "event_timestamp",
}
