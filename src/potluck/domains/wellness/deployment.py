"""The wellness deployment, declared on the Deployment seam.

Entity ``user`` (``user_id`` like ``user-123``); five raw event sources (SQLite on the
embedded profile, PostgreSQL on services) and the label source ``daily_energy``;
Feast objects in :mod:`.features` (windowed views, on-demand views, services, push
source); the generator :mod:`.synth` (next-day energy drawn from a known model, so the
trained regressor's error is reported beside the oracle's).
"""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa

from potluck.deployment import (
    Binding,
    DemoPush,
    Deployment,
    EntitySpec,
    LabelSpec,
    ModelDefaults,
    SourceSpec,
)
from potluck.domains.wellness.push import fresh_activity
from potluck.domains.wellness.schema import (
    JOIN_KEY,
    LABEL,
    LABEL_SOURCE,
    ORACLE,
    SOURCE_SCHEMAS,
    TIMESTAMP_FIELDS,
)

__all__ = ["DEPLOYMENT"]

_BINDINGS = {
    "embedded": Binding("sqlite", {"file": "wellness.db"}),
    "services": Binding("postgres"),
}
_DESCRIPTIONS = {
    "activities": "Logged activities: type, minutes, energy and mood (1-10).",
    "sleep_sessions": "Sleep sessions: start, end, minutes, deep/REM minutes, quality.",
    "exercise_sessions": "Workouts: type, minutes, intensity, energy after.",
    "social_events": "App sessions: posts, comments, likes given/received, friend interactions.",
    "device_integrations": "Device syncs: provider, status, heart rate, steps, calories.",
    "daily_energy": "The label: next-day energy at 21:00, with the generator's expected value.",
}


def _generate(size: int, seed: int, as_of: datetime) -> dict[str, pa.Table]:
    from potluck.domains.wellness.synth import generate

    return generate(size, seed, as_of)


DEPLOYMENT = Deployment(
    name="wellness",
    description="Wellness app: activity, sleep, exercise, social and device features; "
    "next-day energy regression.",
    entities=(EntitySpec("user", {JOIN_KEY: pa.string()}, "A user of the wellness app."),),
    sources={
        name: SourceSpec(
            schema=schema,
            timestamp_field=TIMESTAMP_FIELDS[name],
            entity="user",
            label_derived=frozenset({LABEL, ORACLE}) & frozenset(schema.names),
            bindings=_BINDINGS,
            description=_DESCRIPTIONS[name],
        )
        for name, schema in SOURCE_SCHEMAS.items()
    },
    definitions="potluck.domains.wellness.features",
    label=LabelSpec(
        source=LABEL_SOURCE,
        column=LABEL,
        task="regression",
        oracle_column=ORACLE,
    ),
    model=ModelDefaults(
        name="wellness_energy",
        framework="sklearn",
        metric="mae",
        feature_service="ml_training_v1",
    ),
    generate=_generate,
    default_size=500,
    entity_noun="users",
    # the demo pushes fresh activity online only and shows the dashboard change
    demo_push=DemoPush(
        push_source="user_activity_push",
        service="wellness_dashboard_v1",
        rows=fresh_activity,
    ),
)
