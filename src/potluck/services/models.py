"""Training jobs, registry queries and promotion.

A training request is checked before it is queued (features exist, none is
PII-tagged or the label, the label source has the key, time and label
columns), so a bad request is a 4xx at once rather than a failed job later.
The job then reads the labels (which are also the entity frame), joins the
features point-in-time, trains with a time split, and logs params, metrics,
feature service/refs, training-set fingerprint and row count to MLflow, where
it registers the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute

from potluck.errors import InvalidInputError, PotluckError
from potluck.schemas.models import (
    ModelPublic,
    ModelSummaryPublic,
    ModelVersionPublic,
    PromotionPublic,
    TrainingCreate,
)
from potluck.services.feature_views import source_schema

if TYPE_CHECKING:
    from potluck.features.repo import FeatureRepo
    from potluck.features.resolve import ResolvedFeatures
    from potluck.services.jobs import Job, JobRunner, Progress
    from potluck.settings import Settings

__all__ = [
    "TrainingPlan",
    "get_model",
    "list_models",
    "plan_training",
    "promote_version",
    "read_key_frame",
    "recover_interrupted",
    "run_training",
    "start_training",
]

TIME = "event_timestamp"
LABEL = "__potluck_label__"


@dataclass(frozen=True)
class TrainingPlan:
    spec: TrainingCreate
    resolved: ResolvedFeatures
    keys: tuple[str, ...]
    timestamp_field: str


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _check_columns(
    repo: FeatureRepo, source: str, table: str, wanted: dict[str, str], problems: list[str]
) -> pa.Schema | None:
    """``wanted``: column -> role; appends a problem per missing column."""
    try:
        schema = source_schema(repo, source, table)
    except PotluckError as exc:
        problems.append(exc.message)
        return None
    for column, role in wanted.items():
        if column not in schema.names:
            problems.append(f"{role} column '{column}' is not in source '{source}' table '{table}'")
    return schema


def plan_training(repo: FeatureRepo, spec: TrainingCreate) -> TrainingPlan:
    """Every check that needs no data; raises with every problem listed."""
    from potluck.deployment import active_deployment

    deployment = active_deployment(repo.settings)
    features: str | Sequence[str] = spec.feature_service or list(spec.features or [])
    resolved = repo.resolve(features)  # unknown refs: FeatureReferenceError listing all
    label = spec.label
    problems: list[str] = []
    names = resolved.names
    if label.column in names:
        problems.append(f"the feature set contains the label '{label.column}'")
    pii = sorted(set(names) & (resolved.pii | deployment.pii_columns))
    if pii:
        problems.append(f"the feature set contains PII fields: {', '.join(pii)}")
    leaking = sorted(set(names) & deployment.label_columns - {label.column})
    if leaking:
        problems.append(
            f"the feature set contains the deployment's label or label-derived columns: "
            f"{', '.join(leaking)}"
        )
    if len(resolved.join_keys) > 1:
        problems.append(
            f"features span several join keys ({', '.join(sorted(resolved.join_keys))})"
        )
    declared = deployment.sources.get(label.source)
    if declared is None:
        known = ", ".join(deployment.sources)
        raise InvalidInputError(
            "training request", [f"unknown label source '{label.source}' (known: {known})"]
        )
    keys = deployment.join_keys_of(label.source)
    if resolved.join_keys and set(resolved.join_keys) != set(keys):
        problems.append(
            f"label source '{label.source}' is keyed by {', '.join(keys)}; the features by "
            f"{', '.join(sorted(resolved.join_keys))}"
        )
    if label.column in deployment.pii_columns:
        problems.append(f"the label column '{label.column}' is PII in the data contract")
    wanted = {k: "entity key" for k in keys}
    wanted[declared.timestamp_field] = "timestamp"
    wanted[label.column] = "label"
    schema = _check_columns(repo, label.source, label.source, wanted, problems)
    ts_type = (
        schema.field(declared.timestamp_field).type
        if schema is not None and declared.timestamp_field in schema.names
        else None
    )
    if ts_type is not None and not pa.types.is_timestamp(ts_type):
        problems.append(f"timestamp column '{declared.timestamp_field}' is not a timestamp")
    if problems:
        raise InvalidInputError("training request", problems)
    return TrainingPlan(
        spec=spec, resolved=resolved, keys=tuple(keys), timestamp_field=declared.timestamp_field
    )


def read_key_frame(
    repo: FeatureRepo,
    *,
    source: str,
    table: str,
    entity_keys: Sequence[str],
    timestamp_field: str,
    rename_keys: Sequence[str] | None = None,
    extra: Sequence[str] = (),
    start: datetime | None = None,
    end: datetime | None = None,
) -> pa.Table:
    """Key(s), time (renamed to ``rename_keys`` / ``event_timestamp``) and ``extra`` columns
    of a source table, restricted to ``[start, end]`` by the connector (pushed down)."""
    from potluck.connectors import ReadRequest
    from potluck.offline.bindings import SourceBinding, connector_for_name
    from potluck.profiles import source_bindings

    binding = SourceBinding(**source_bindings(repo.settings)[source])
    columns = list(dict.fromkeys([*entity_keys, timestamp_field, *extra]))
    table_ = connector_for_name(source, binding).read(
        ReadRequest(
            table=table,
            columns=columns,
            timestamp_column=timestamp_field,
            start=_utc(start),
            end=_utc(end),
        )
    )
    renames = dict(zip(entity_keys, rename_keys or entity_keys, strict=True))
    renames[timestamp_field] = TIME
    return table_.rename_columns([renames.get(c, c) for c in table_.column_names])


def run_training(
    settings: Settings,
    repo: FeatureRepo,
    plan: TrainingPlan,
    progress: Progress,
    job_id: str = "",
) -> dict[str, Any]:
    from potluck.features.retrieval import historical_features
    from potluck.ml.train import Hyperparameters
    from potluck.offline.job import arrow_to_pandas
    from potluck.services.training import fit_and_register, json_metrics

    spec, label = plan.spec, plan.spec.label
    progress(0.05, "reading labels")
    frame = read_key_frame(
        repo,
        source=label.source,
        table=label.source,
        entity_keys=plan.keys,
        timestamp_field=plan.timestamp_field,
        extra=[label.column],
        start=spec.time_range.start if spec.time_range else None,
        end=spec.time_range.end if spec.time_range else None,
    )
    frame = frame.filter(pa.compute.is_valid(frame[label.column]))
    if frame.num_rows == 0:
        raise InvalidInputError(
            "training request", ["the label source has no labelled rows in the time range"]
        )
    progress(0.2, "point-in-time join")
    # The label travels under a private name: Feast refuses entity columns named like any
    # feature it fetches, on-demand inputs included (a glucose label vs glucose inputs).
    frame = frame.rename_columns([LABEL if c == label.column else c for c in frame.column_names])
    features: str | list[str] = spec.feature_service or list(spec.features or [])
    table = historical_features(repo, arrow_to_pandas(frame), features)
    names = list(dict.fromkeys(plan.resolved.names))
    table = table.select([*plan.keys, TIME, LABEL, *names])
    table = table.rename_columns([label.column if c == LABEL else c for c in table.column_names])
    progress(0.5, f"training {spec.framework} {spec.model_type}")
    hp = spec.hyperparameters
    trained = fit_and_register(
        settings,
        table,
        name=spec.name,
        features=names,
        label=label.column,
        model_type=spec.model_type,
        framework=spec.framework,
        feature_service=spec.feature_service or "",
        feature_refs=plan.resolved.refs,
        test_fraction=spec.test_fraction,
        hyperparameters=Hyperparameters(
            n_estimators=hp.n_estimators,
            max_depth=hp.max_depth,
            learning_rate=hp.learning_rate,
            seed=hp.seed,
        ),
        split=spec.split,
        seed=hp.seed,
        lineage={"label_source": label.source, **({"job_id": job_id} if job_id else {})},
    )
    progress(0.95, "registered in MLflow")
    return {
        "name": trained.name,
        "version": trained.version,
        "run_id": trained.run_id,
        "metrics": json_metrics(trained.metrics),
        "training_rows": table.num_rows,
        "train_rows": trained.train_rows,
        "test_rows": trained.test_rows,
        "training_set_fingerprint": trained.fingerprint,
    }


def start_training(
    settings: Settings, repo: FeatureRepo, runner: JobRunner, spec: TrainingCreate
) -> Job:
    import uuid

    plan = plan_training(repo, spec)
    job_id = uuid.uuid4().hex
    return runner.submit(
        "train",
        lambda progress: run_training(settings, repo, plan, progress, job_id),
        job_id=job_id,
    )


def recover_interrupted(settings: Settings, runner: JobRunner) -> dict[str, int]:
    """Mark the MLflow state of the runner's interrupted training jobs failed (at start-up)."""
    from potluck.ml.registry import mark_interrupted

    ids = [job.id for job in runner.interrupted if job.kind == "train"]
    return mark_interrupted(settings, ids) if ids else {}


def list_models(settings: Settings) -> list[ModelSummaryPublic]:
    from potluck.ml import registry

    return [ModelSummaryPublic(**m) for m in registry.list_models(settings)]


def get_model(settings: Settings, name: str) -> ModelPublic:
    from dataclasses import asdict

    from potluck.ml import registry

    versions = registry.model_versions(settings, name)
    aliases = {alias: v.version for v in versions for alias in v.aliases}
    return ModelPublic(
        name=name,
        aliases=aliases,
        versions=[
            ModelVersionPublic(**{k: v for k, v in asdict(d).items() if k != "name"})
            for d in versions
        ],
    )


def promote_version(settings: Settings, name: str, version: int, alias: str) -> PromotionPublic:
    from potluck.ml import registry

    registry.promote(settings, name, version, alias)
    return PromotionPublic(name=name, version=version, alias=alias)
