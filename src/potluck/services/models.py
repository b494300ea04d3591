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

from potluck.api.schemas.models import (
    ModelPublic,
    ModelSummaryPublic,
    ModelVersionPublic,
    PromotionPublic,
    TrainingCreate,
)
from potluck.errors import InvalidInputError, PotluckError
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
    "run_training",
    "start_training",
]

TIME = "event_timestamp"
LABEL = "__potluck_label__"


@dataclass(frozen=True)
class TrainingPlan:
    spec: TrainingCreate
    resolved: ResolvedFeatures
    join_key: str


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
    features: str | Sequence[str] = spec.feature_service or list(spec.features or [])
    resolved = repo.resolve(features)  # unknown refs: FeatureReferenceError listing all
    label = spec.label
    problems: list[str] = []
    names = resolved.names
    if label.column in names:
        problems.append(f"the feature set contains the label '{label.column}'")
    pii = sorted(set(names) & resolved.pii)
    if pii:
        problems.append(f"the feature set contains PII-tagged fields: {', '.join(pii)}")
    if len(resolved.join_keys) > 1:
        problems.append(
            f"features span several join keys ({', '.join(sorted(resolved.join_keys))})"
        )
    wanted = {
        label.entity_key: "entity key",
        label.timestamp_field: "timestamp",
        label.column: "label",
    }
    schema = _check_columns(repo, label.source, label.table or label.source, wanted, problems)
    ts_type = (
        schema.field(label.timestamp_field).type
        if schema is not None and label.timestamp_field in schema.names
        else None
    )
    if ts_type is not None and not pa.types.is_timestamp(ts_type):
        problems.append(f"timestamp column '{label.timestamp_field}' is not a timestamp")
    if problems:
        raise InvalidInputError("training request", problems)
    join_key = next(iter(resolved.join_keys), label.entity_key)
    return TrainingPlan(spec=spec, resolved=resolved, join_key=join_key)


def read_key_frame(
    repo: FeatureRepo,
    *,
    source: str,
    table: str,
    entity_key: str,
    timestamp_field: str,
    join_key: str,
    extra: Sequence[str] = (),
    start: datetime | None = None,
    end: datetime | None = None,
) -> pa.Table:
    """Key, time (renamed to ``join_key`` / ``event_timestamp``) and ``extra`` columns of a
    source table, restricted to ``[start, end]`` by the connector (pushed down)."""
    from potluck.connectors import ReadRequest
    from potluck.offline.bindings import SourceBinding, connector_for_name
    from potluck.profiles import source_bindings

    binding = SourceBinding(**source_bindings(repo.settings)[source])
    columns = list(dict.fromkeys([entity_key, timestamp_field, *extra]))
    table_ = connector_for_name(source, binding).read(
        ReadRequest(
            table=table,
            columns=columns,
            timestamp_column=timestamp_field,
            start=_utc(start),
            end=_utc(end),
        )
    )
    renames = {entity_key: join_key, timestamp_field: TIME}
    return table_.rename_columns([renames.get(c, c) for c in table_.column_names])


def run_training(
    settings: Settings, repo: FeatureRepo, plan: TrainingPlan, progress: Progress
) -> dict[str, Any]:
    from potluck.features.retrieval import historical_features
    from potluck.ml.registry import log_and_register
    from potluck.ml.train import Hyperparameters, train_estimator
    from potluck.offline.job import arrow_to_pandas
    from potluck.workflows.modeling import fingerprint

    spec, label = plan.spec, plan.spec.label
    progress(0.05, "reading labels")
    frame = read_key_frame(
        repo,
        source=label.source,
        table=label.table or label.source,
        entity_key=label.entity_key,
        timestamp_field=label.timestamp_field,
        join_key=plan.join_key,
        extra=[label.column],
        start=spec.time_range.start if spec.time_range else None,
        end=spec.time_range.end if spec.time_range else None,
    )
    if frame.num_rows == 0:
        raise InvalidInputError(
            "training request", ["the label source has no rows in the time range"]
        )
    progress(0.2, "point-in-time join")
    # The label travels under a private name: Feast refuses entity columns named like any
    # feature it fetches, on-demand inputs included (a glucose label vs glucose inputs).
    frame = frame.rename_columns([LABEL if c == label.column else c for c in frame.column_names])
    features: str | list[str] = spec.feature_service or list(spec.features or [])
    table = historical_features(repo, arrow_to_pandas(frame), features)
    names = list(dict.fromkeys(plan.resolved.names))
    table = table.select([plan.join_key, TIME, LABEL, *names])
    table = table.rename_columns([label.column if c == LABEL else c for c in table.column_names])
    progress(0.5, f"training {spec.framework} {spec.model_type}")
    hp = spec.hyperparameters
    result = train_estimator(
        arrow_to_pandas(table),
        names,
        label.column,
        TIME,
        framework=spec.framework,
        model_type=spec.model_type,
        test_fraction=spec.test_fraction,
        hyperparameters=Hyperparameters(
            n_estimators=hp.n_estimators,
            max_depth=hp.max_depth,
            learning_rate=hp.learning_rate,
            seed=hp.seed,
        ),
    )
    progress(0.85, "registering in MLflow")
    digest = fingerprint(table)
    info = log_and_register(
        settings,
        name=spec.name,
        model=result.model,
        features=result.features,
        categorical=result.categorical,
        metrics=result.metrics,
        params={**result.params, "label": label.column},
        feature_service=spec.feature_service or "",
        feature_refs=plan.resolved.refs,
        fingerprint=digest,
        rows=table.num_rows,
        model_type=spec.model_type,
        label=label.column,
        lineage={"label_source": f"{label.source}.{label.table or label.source}"},
    )
    return {
        "name": info.name,
        "version": info.version,
        "run_id": info.run_id,
        "metrics": {k: round(v, 6) for k, v in result.metrics.items() if v == v},
        "training_rows": table.num_rows,
        "train_rows": result.train_rows,
        "test_rows": result.test_rows,
        "training_set_fingerprint": digest,
    }


def start_training(
    settings: Settings, repo: FeatureRepo, runner: JobRunner, spec: TrainingCreate
) -> Job:
    plan = plan_training(repo, spec)
    return runner.submit("train", lambda progress: run_training(settings, repo, plan, progress))


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
