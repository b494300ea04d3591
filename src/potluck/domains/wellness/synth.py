"""Synthetic users' days with a known model of next-day energy.

``generate(size, seed, as_of)`` simulates ``size`` users over the :data:`DAYS` days
before ``as_of``'s date, one day at a time (vectorized over users). Each user has
stable traits (activity rate and preferences, sleep need and chronotype, workout
habit, sociability, devices). Each day ``d`` has a latent energy level ``E_d``: the
day's self-reports scatter around it (activities' ``energy_level``, workouts'
``energy_after``; moods follow it), and at 21:00 the next day's energy is drawn from
the known model

    E_{d+1} = reference_energy(window features at 21:00 on day d) + N(0, NOISE^2)

(:func:`potluck.domains.wellness.functions.reference_energy`: 7-day mean energy,
sleep duration and quality, workout minutes and high-intensity count). The label
source ``daily_energy`` holds one row per user and day from :data:`LABEL_FROM` on:
at 21:00 on day d, ``next_day_energy = E_{d+1}`` and the oracle
``expected_next_day_energy = reference_energy(...)``: its error is the best any model
of the point-in-time features can do (``NOISE`` in RMSE, ``NOISE * sqrt(2/pi)`` in
MAE). The generator computes those window values with the same rule as the platform:
activities and workouts happen before 21:00 and nights end before noon, so the window
``(t - 7 d, t]`` at 21:00 on day d holds exactly days d-6 .. d.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa

from potluck.domains.wellness.functions import reference_energy
from potluck.domains.wellness.schema import (
    ACTIVITY_TYPES,
    EXERCISE_TYPES,
    LABEL,
    ORACLE,
    PROVIDERS,
    SOURCE_SCHEMAS,
)

__all__ = ["DAYS", "LABEL_FROM", "NOISE", "generate", "user_ids"]

DAYS = 42
LABEL_FROM = 7
NOISE = 0.9
_US_H = 3_600_000_000
_US_D = 24 * _US_H


def user_ids(size: int) -> list[str]:
    return [f"user-{i}" for i in range(1, size + 1)]


def _ints(rng: np.random.Generator, lo: float, hi: float, n: int) -> np.ndarray:
    """Uniform microsecond offsets in [lo h, hi h)."""
    return rng.integers(int(lo * _US_H), int(hi * _US_H), n)


def _rating(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 1, 10).astype(np.int64)


def _choice(rng: np.random.Generator, prefs: np.ndarray) -> np.ndarray:
    """One category index per row of ``prefs`` (rows are probabilities)."""
    cum = prefs.cumsum(axis=1)
    draw = rng.random(len(prefs))[:, None] * cum[:, -1:]
    return (draw > cum).sum(axis=1)


class _Days:
    """Collects each source's columns day by day; ``table`` concatenates them."""

    def __init__(self) -> None:
        self.parts: dict[str, dict[str, list[np.ndarray]]] = {}

    def add(self, source: str, **columns: np.ndarray) -> None:
        part = self.parts.setdefault(source, {})
        for name, values in columns.items():
            part.setdefault(name, []).append(np.asarray(values))

    def table(self, source: str, users: np.ndarray) -> pa.Table:
        schema = SOURCE_SCHEMAS[source]
        part = {k: np.concatenate(v) for k, v in self.parts[source].items()}
        arrays = []
        for field in schema:
            if field.name == "user_id":
                arrays.append(pa.array(users[part["user"]], pa.string()))
            elif pa.types.is_timestamp(field.type):
                arrays.append(pa.array(part[field.name], pa.int64()).cast(field.type))
            else:
                values = part[field.name]
                mask = (
                    pd.isna(values) if values.dtype == object or values.dtype.kind == "f" else None
                )
                arrays.append(pa.array(values, field.type, mask=mask))
        return pa.Table.from_arrays(arrays, schema=schema)


def generate(size: int, seed: int, as_of: datetime) -> dict[str, pa.Table]:
    """Every source of the deployment (see the module docstring)."""
    rng = np.random.default_rng(seed)
    as_of = as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC)
    midnight = datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC)
    start = midnight - timedelta(days=DAYS)
    day0 = int((start - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1))
    n = size
    users = np.array(user_ids(n), dtype=object)
    idx = np.arange(n)

    act_rate = rng.uniform(1.0, 4.0, n)
    act_pref = rng.dirichlet(np.full(len(ACTIVITY_TYPES), 0.7), n)
    sleep_need = rng.uniform(6.2, 8.3, n)
    chrono = rng.uniform(22.0, 24.8, n)
    sleep_logged = rng.uniform(0.7, 1.0, n)
    ex_p = rng.uniform(0.1, 0.8, n)
    ex_pref = rng.dirichlet(np.full(len(EXERCISE_TYPES), 0.8), n)
    high_p = rng.uniform(0.05, 0.6, n)
    social_rate = rng.uniform(0.3, 3.0, n)
    friends = rng.integers(5, 400, n).astype(np.int64)
    mood_base = rng.normal(0.0, 0.7, n)
    # devices: each user has 1-3 providers, each with a sync rate and a reliability
    n_dev = rng.integers(1, 4, n)
    dev_user = np.repeat(idx, n_dev)
    dev_provider = np.concatenate(
        [rng.choice(len(PROVIDERS), k, replace=False) for k in n_dev]
    ).astype(np.int64)
    dev_rate = rng.uniform(1.0, 4.0, len(dev_user))
    dev_ok = rng.uniform(0.7, 1.0, len(dev_user))
    hr_base = rng.normal(68.0, 7.0, n)
    steps_base = rng.uniform(3000.0, 12000.0, n)

    days = _Days()
    energy = rng.normal(5.5, 1.0, n)  # E_0
    # per user and day: sums the oracle's 7-day window values are made of
    agg = {k: np.zeros((DAYS, n)) for k in ("e_sum", "e_n", "s_sum", "s_n", "q_sum", "x", "h")}
    labels: list[tuple[np.ndarray, int, np.ndarray, np.ndarray]] = []
    for d in range(DAYS):
        base = day0 + d * _US_D
        # the night ending this morning (it began the evening before)
        logged = rng.random(n) < sleep_logged
        bed = chrono + rng.normal(0.0, 0.6, n)
        minutes = np.clip(rng.normal(sleep_need, 0.75), 3.0, 11.0) * 60.0
        quality = np.clip(
            0.45 + 0.08 * (minutes / 60 - 6) - 0.05 * np.abs(bed - 23) + rng.normal(0, 0.08, n),
            0.0,
            1.0,
        )
        s_start = base - _US_D + (bed * _US_H).astype(np.int64)
        u = idx[logged]
        days.add(
            "sleep_sessions",
            user=u,
            sleep_start=s_start[logged],
            sleep_end=s_start[logged] + (minutes[logged] * 60e6).astype(np.int64),
            duration_minutes=np.round(minutes[logged], 1),
            deep_sleep_minutes=np.round(minutes[logged] * rng.uniform(0.13, 0.23, len(u)), 1),
            rem_sleep_minutes=np.round(minutes[logged] * rng.uniform(0.18, 0.25, len(u)), 1),
            quality_score=np.round(quality[logged], 3),
            bedtime_hour=np.round(bed[logged], 3),
        )
        agg["s_sum"][d, u] = np.round(minutes[logged], 1)
        agg["s_n"][d, u] = 1
        agg["q_sum"][d, u] = np.round(quality[logged], 3)

        # activities, 07:00-21:00, their ratings around today's energy
        count = np.minimum(rng.poisson(act_rate), 8)
        u = np.repeat(idx, count)
        level = _rating(energy[u] + rng.normal(0.0, 1.0, len(u)))
        days.add(
            "activities",
            user=u,
            activity_time=base + _ints(rng, 7, 21, len(u)),
            activity_type=np.array(ACTIVITY_TYPES, dtype=object)[_choice(rng, act_pref[u])],
            duration_minutes=np.round(rng.gamma(2.0, 20.0, len(u)) + 5.0, 1),
            energy_level=level,
            mood_level=_rating(0.6 * energy[u] + 2.2 + mood_base[u] + rng.normal(0, 1, len(u))),
        )
        np.add.at(agg["e_sum"][d], u, level)
        np.add.at(agg["e_n"][d], u, 1)

        # at most one workout, 06:00-20:00
        u = idx[rng.random(n) < ex_p]
        high = rng.random(len(u)) < high_p[u]
        intensity = np.where(high, "high", np.where(rng.random(len(u)) < 0.5, "moderate", "low"))
        ex_minutes = np.round(rng.gamma(3.0, 13.0, len(u)) + 10.0, 1)
        days.add(
            "exercise_sessions",
            user=u,
            exercise_time=base + _ints(rng, 6, 20, len(u)),
            exercise_type=np.array(EXERCISE_TYPES, dtype=object)[_choice(rng, ex_pref[u])],
            duration_minutes=ex_minutes,
            intensity=intensity.astype(object),
            energy_after=_rating(energy[u] + 0.5 + rng.normal(0.0, 1.0, len(u))),
            session_date=np.full(len(u), (start + timedelta(days=d)).date().isoformat(), object),
        )
        agg["x"][d, u] = ex_minutes
        agg["h"][d, u] = high

        # app sessions, any time of the day
        friends = friends + rng.poisson(0.1, n)
        count = np.minimum(rng.poisson(social_rate), 5)
        u = np.repeat(idx, count)
        posts = rng.poisson(0.3, len(u))
        days.add(
            "social_events",
            user=u,
            event_time=base + _ints(rng, 0, 24, len(u)),
            posts=posts,
            comments=rng.poisson(1.0, len(u)),
            likes_given=rng.poisson(4.0, len(u)),
            likes_received=rng.poisson(3.0 * posts + 0.5),
            friend_interactions=rng.poisson(0.8, len(u)),
            friend_count=friends[u],
        )

        # device syncs, any time; failed syncs carry no vitals, Google Fit no heart rate
        count = np.minimum(rng.poisson(dev_rate), 6)
        dev = np.repeat(np.arange(len(dev_user)), count)
        u = dev_user[dev]
        ok = rng.random(len(dev)) < dev_ok[dev]
        provider = dev_provider[dev]
        steps = steps_base[u] / dev_rate[dev] * rng.uniform(0.5, 1.5, len(dev))
        no_hr = ~ok | (provider == PROVIDERS.index("google_fit"))
        heart = np.where(no_hr, np.nan, np.round(hr_base[u] + rng.normal(0, 4, len(dev)), 1))
        calories = np.where(ok & (rng.random(len(dev)) > 0.05), np.round(steps * 0.04, 1), np.nan)
        days.add(
            "device_integrations",
            user=u,
            sync_time=base + _ints(rng, 0, 24, len(dev)),
            provider=np.array(PROVIDERS, dtype=object)[provider],
            sync_status=np.where(ok, "success", "failed").astype(object),
            avg_heart_rate=heart,
            steps=np.where(ok, np.rint(steps), np.nan),
            calories=calories,
        )

        # 21:00: the window features of (t - 7 d, t] are days d-6 .. d
        lo = max(0, d - 6)
        e_n = agg["e_n"][lo : d + 1].sum(axis=0)
        s_n = agg["s_n"][lo : d + 1].sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            expected = reference_energy(
                pd.Series(np.where(e_n > 0, agg["e_sum"][lo : d + 1].sum(axis=0) / e_n, np.nan)),
                pd.Series(np.where(s_n > 0, agg["s_sum"][lo : d + 1].sum(axis=0) / s_n, np.nan)),
                pd.Series(np.where(s_n > 0, agg["q_sum"][lo : d + 1].sum(axis=0) / s_n, np.nan)),
                pd.Series(agg["x"][lo : d + 1].sum(axis=0)),
                pd.Series(agg["h"][lo : d + 1].sum(axis=0)),
            ).to_numpy()
        energy = expected + rng.normal(0.0, NOISE, n)  # E_{d+1}
        if LABEL_FROM <= d < DAYS - 1:
            labels.append((idx, base + 21 * _US_H, energy, expected))

    tables = {
        name: days.table(name, users)
        for name in (
            "activities",
            "sleep_sessions",
            "exercise_sessions",
            "social_events",
            "device_integrations",
        )
    }
    tables["daily_energy"] = pa.table(
        {
            "user_id": pa.array(np.concatenate([users[u] for u, *_ in labels]), pa.string()),
            "event_timestamp": pa.array(
                np.concatenate([np.full(len(u), t) for u, t, *_ in labels]), pa.int64()
            ).cast(SOURCE_SCHEMAS["daily_energy"].field("event_timestamp").type),
            LABEL: np.round(np.concatenate([e for *_, e, _ in labels]), 4),
            ORACLE: np.round(np.concatenate([x for *_, x in labels]), 4),
        },
        schema=SOURCE_SCHEMAS["daily_energy"],
    )
    return tables
