"""The flagship run: every step of the active deployment, timed, with progress."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
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


def _sample_ids(settings: Settings, sample: int) -> list[Any]:
    """The first ``sample`` entities of the label source (the ones a model scores)."""
    from potluck.deployment import active_deployment
    from potluck.workflows.data import read_source_table

    deployment = active_deployment(settings)
    source = deployment.label.source if deployment.label else deployment.loaded_sources[0]
    keys = deployment.join_keys_of(source)
    table = read_source_table(settings, source).select(keys)
    seen: list[Any] = []
    for row in table.to_pylist():
        value = row[keys[0]] if len(keys) == 1 else ",".join(f"{k}={row[k]}" for k in keys)
        if value not in seen:
            seen.append(value)
        if len(seen) >= sample:
            break
    return seen


def _batch_score(settings: Settings, as_of: datetime) -> dict[str, Any]:
    """Deployments with a prediction sink: score the last day's rows (up to ``as_of``) of
    their first non-label source of the model's entity into the sink (a new snapshot)."""
    from datetime import timedelta

    from potluck.deployment import active_deployment
    from potluck.errors import EntityFrameError
    from potluck.features.repo import FeatureRepo
    from potluck.schemas.predictions import BatchPredictionCreate, SourceFrameCreate
    from potluck.services.predictions import ModelCache, predict_batch

    deployment = active_deployment(settings)
    entity = deployment.primary_entity.name
    label = deployment.label.source if deployment.label else None
    candidates = [
        n
        for n in deployment.loaded_sources
        if n != label and deployment.sources[n].entity == entity
    ] or [n for n in deployment.loaded_sources if deployment.sources[n].entity == entity]
    spec = BatchPredictionCreate(
        source=SourceFrameCreate(source=candidates[0], start=as_of - timedelta(days=1), end=as_of),
        output="iceberg",
    )
    try:
        done = predict_batch(settings, FeatureRepo(settings), ModelCache(settings), spec)
    except EntityFrameError as exc:
        return {"rows": 0, "skipped": exc.message}
    return {"table": done.output_table, "snapshot_id": done.snapshot_id, "rows": done.rows}


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def run_demo(
    settings: Settings,
    *,
    size: int,
    seed: int,
    as_of: datetime,
    framework: str | None = None,
    sample: int = 5,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Run the deployment end to end on ``settings.profile``; returns the summary."""
    from potluck.deployment import active_deployment
    from potluck.features.repo import FeatureRepo
    from potluck.online.materialize import materialize
    from potluck.workflows import data, modeling

    deployment = active_deployment(settings)
    timings: dict[str, float] = {}
    extra_steps = 2 if deployment.demo_push is not None else 0  # push, incremental
    extra_steps += deployment.prediction_sink is not None  # batch score
    stream = deployment.demo_stream
    extra_steps += stream is not None  # replay
    task = progress.add_task("demo", total=len(STEPS) + extra_steps) if progress else None

    @contextmanager
    def step(name: str) -> Iterator[None]:
        if progress is not None and task is not None:
            progress.update(task, description=f"[bold]{name.replace('_', ' ')}")
        started = time.perf_counter()
        yield
        timings[name] = round(time.perf_counter() - started, 3)
        if progress is not None and task is not None:
            progress.advance(task)

    # a demo stream: the source's last events are withheld, to arrive on the stream
    withhold = {stream.source: as_of - stream.hold_back} if stream is not None else None
    with step("seed"):
        sources = data.seed(settings, size=size, seed=seed, as_of=as_of, withhold=withhold)
    with step("apply"):
        repo = FeatureRepo(settings)
        registered = repo.apply()
    with step("engineer"):
        engineering = data.engineer_features(settings)
        engineered = engineering.rows
    with step("training_set"):
        training = modeling.build_training_set(settings, repo)
    with step("train"):
        trained = modeling.train_model(settings, framework)  # type: ignore[arg-type]
        # The demo ships what it trained: the serving alias points at the new version
        # (the API serves only a promoted version; see docs/SECURITY.md).
        from potluck.ml.registry import promote

        promote(settings, trained.name, trained.version, settings.serving_alias)
    batch: dict[str, Any] | None = None
    if deployment.prediction_sink is not None:
        with step("batch_score"):
            batch = _batch_score(settings, as_of)
    with step("materialize"):
        # up to now (as a scheduled run would): the online reads below happen now, and a
        # view with a TTL of hours would otherwise read as expired after a past --as-of.
        # With a demo stream: up to where the stream takes over (its replay reads there).
        end = max(as_of, datetime.now(UTC)) if stream is None else as_of - stream.hold_back
        if stream is not None:  # a demo run again: its states are the demo's to rebuild
            _release_stream(repo, stream.source)
        materialized = materialize(repo, end=end)
    replayed: dict[str, Any] | None = None
    if stream is not None:
        with step("replay"):
            replayed = _replay(settings, repo, as_of, progress)
    with step("online"):
        ids = _sample_ids(settings, sample)
        at = as_of if stream is not None else None  # after the replay: the stream's end
        predictions = modeling.predict_online(settings, repo, ids, at=at)
    pushed = None
    if deployment.demo_push is not None:
        pushed = _push_and_increment(settings, repo, as_of, step)
    key = "entity"
    return {
        "deployment": deployment.name,
        "profile": settings.profile,
        "entities": size,
        "entity_noun": deployment.entity_noun,
        "seed": seed,
        "as_of": as_of.isoformat(),
        "sources": {**sources, **engineered},
        "engineering_engine": engineering.engine,
        "registered": registered,
        "training_set": {"rows": training.num_rows, "columns": training.num_columns},
        "model": {
            "name": trained.name,
            "version": trained.version,
            "task": trained.model_type,
            "metric": deployment.model.metric,
            "value": round(trained.metrics.get(deployment.model.metric, float("nan")), 4),
            # the oracle's score under the same metric (None without an oracle column)
            "oracle_value": _rounded(trained.oracle.get(f"oracle_{deployment.model.metric}")),
            "auc": round(trained.auc, 4),
            "oracle_auc": round(trained.oracle_auc, 4),
            "oracle": {k: round(v, 4) for k, v in trained.oracle.items()},
            "metrics": {k: round(v, 4) for k, v in trained.metrics.items()},
            "train_rows": trained.train_rows,
            "test_rows": trained.test_rows,
        },
        **({"batch_scores": batch} if batch is not None else {}),
        "materialized_rows": materialized.total_rows,
        "materialized": materialized.rows,
        "online_sample": [
            {
                key: ",".join(
                    str(p[k]) for k in p if k not in ("prediction", "status", "model_version")
                ),
                "prediction": p["prediction"],
                "status": p["status"],
            }
            for p in predictions
        ],
        **({"push": pushed} if pushed is not None else {}),
        **({"stream": replayed} if replayed is not None else {}),
        "timings_s": {**timings, "total": round(sum(timings.values()), 3)},
    }


def _release_stream(repo: Any, source: str) -> None:
    """Hand back window states an earlier run's processor owns (see
    ``potluck.streams.offline.release``), or materialize would leave them as that run
    left them, its replayed events already folded in."""
    from potluck.streams import open_log
    from potluck.streams.offline import release
    from potluck.streams.processor import stream_plans

    log = open_log(repo)
    try:
        release(log, repo.settings, repo.config, stream_plans(repo, [source])[0])
    finally:
        log.close()


def _replay(
    settings: Settings, repo: Any, as_of: datetime, progress: Progress | None
) -> dict[str, Any]:
    """The withheld events through the stream processor, each scored as it arrives."""
    import pyarrow.parquet as pq

    from potluck.deployment import active_deployment
    from potluck.workflows.data import held_back_path
    from potluck.workflows.demo_stream import replay

    deployment = active_deployment(settings)
    assert deployment.demo_stream is not None
    total = pq.read_metadata(held_back_path(settings, deployment.demo_stream.source)).num_rows
    task = progress.add_task("replaying the stream", total=total) if progress else None

    def advance(n: int) -> None:
        if progress is not None and task is not None:
            progress.advance(task, n)

    try:
        return replay(settings, repo, as_of, on_event=advance)
    finally:
        if progress is not None and task is not None:
            progress.remove_task(task)


def _push_and_increment(
    settings: Settings,
    repo: Any,
    as_of: datetime,
    step: Callable[[str], AbstractContextManager[None]],
) -> dict[str, Any]:
    """The deployment's demo push (online only) for its first entity, the service before
    and after, then ``materialize --incremental`` and what still differs after it."""
    from potluck.deployment import active_deployment
    from potluck.online.materialize import materialize
    from potluck.workflows.demo_push import after_incremental, show_push

    deployment = active_deployment(settings)
    entity = _sample_ids(settings, 1)[0]
    at = max(as_of, datetime.now(UTC))
    with step("push"):
        shown = show_push(repo, deployment, entity, at)
    with step("materialize_incremental"):
        incremental = materialize(repo, end=at, incremental=True)
        shown["incremental_rows"] = incremental.total_rows
        shown["changed_after_incremental"] = after_incremental(repo, deployment, shown, entity, at)
    return shown
