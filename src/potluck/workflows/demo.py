"""The flagship run: every step of the stroke-risk deployment, timed, with progress."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from rich.progress import Progress

from potluck.settings import Settings

__all__ = ["STEPS", "run_demo"]

STEPS = [
    "seed",
    "apply",
    "engineer",
    "training_set",
    "train",
    "materialize",
    "online",
]


def run_demo(
    settings: Settings,
    *,
    patients: int,
    seed: int,
    as_of: datetime,
    framework: str = "sklearn",
    sample: int = 5,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Run the deployment end to end on ``settings.profile``; returns the summary."""
    from potluck.features.repo import FeatureRepo
    from potluck.online.materialize import materialize
    from potluck.workflows import data, modeling

    timings: dict[str, float] = {}
    task = progress.add_task("demo", total=len(STEPS)) if progress else None

    @contextmanager
    def step(name: str) -> Iterator[None]:
        if progress is not None and task is not None:
            progress.update(task, description=f"[bold]{name.replace('_', ' ')}")
        started = time.perf_counter()
        yield
        timings[name] = round(time.perf_counter() - started, 3)
        if progress is not None and task is not None:
            progress.advance(task)

    with step("seed"):
        sources = data.seed(settings, patients=patients, seed=seed, as_of=as_of)
    with step("apply"):
        repo = FeatureRepo(settings)
        registered = repo.apply()
    with step("engineer"):
        engineering = data.engineer_features(settings)
        engineered = engineering.rows
    with step("training_set"):
        training = modeling.build_training_set(settings, repo, "stroke_risk_v1")
    with step("train"):
        trained = modeling.train_model(settings, framework)  # type: ignore[arg-type]
    with step("materialize"):
        materialized = materialize(repo, end=as_of)
    with step("online"):
        ids = [f"P{i:08d}" for i in range(1, min(sample, patients) + 1)]
        predictions = modeling.predict_online(settings, repo, ids)
    return {
        "profile": settings.profile,
        "patients": patients,
        "seed": seed,
        "as_of": as_of.isoformat(),
        "sources": {**sources, **engineered},
        "engineering_engine": engineering.engine,
        "registered": registered,
        "training_set": {"rows": training.num_rows, "columns": training.num_columns},
        "model": {
            "name": trained.name,
            "version": trained.version,
            "auc": round(trained.auc, 4),
            "oracle_auc": round(trained.oracle_auc, 4),
            "metrics": {k: round(v, 4) for k, v in trained.metrics.items()},
            "train_rows": trained.train_rows,
            "test_rows": trained.test_rows,
        },
        "materialized_rows": materialized.total_rows,
        "materialized": materialized.rows,
        "online_sample": [
            {"patient_id": p["patient_id"], "stroke_probability": p["stroke_probability"]}
            for p in predictions
        ],
        "timings_s": {**timings, "total": round(sum(timings.values()), 3)},
    }
