"""The seed lakehouse platform's API, mapped onto potluck's services: models, predictions.

Training (``POST /feast/models``) is synchronous as in the seed: the request becomes a
:class:`~potluck.schemas.models.TrainingCreate`, is checked by
:func:`~potluck.services.models.plan_training` (labels, leakage, PII) and run by
:func:`~potluck.services.models.run_training`. ``entity_df_source`` is a source of the
deployment, or the label's entity by name or plural (``customers``): then the source of
that entity holding ``label_column`` with ``event_timestamp_column`` as its timestamp.
Features: ``feature_service``, else every served feature of ``feature_views``, else the
deployment's default service. Predictions map onto
:func:`~potluck.services.predictions.predict_online` (raw feature values) and
:func:`~potluck.services.predictions.predict_batch` (``output: "iceberg"``:
``output_schema.output_table`` of the catalog, a new snapshot).
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from potluck.deployment import Deployment, active_deployment
from potluck.errors import InvalidInputError
from potluck.schemas import lakehouse_compat as seed
from potluck.services.lakehouse_compat import build, parse_model_id

if TYPE_CHECKING:
    from potluck.features.repo import FeatureRepo
    from potluck.services.predictions import ModelCache
    from potluck.settings import Settings

__all__ = ["list_models", "predict_batch", "predict_online", "train"]

_FRAMEWORKS = ("sklearn", "xgboost", "lightgbm")
_TASKS = ("classification", "regression")


def _label_source(
    deployment: Deployment, data: seed.TrainingDataConfig, problems: list[str]
) -> str | None:
    given = data.entity_df_source
    if given is not None and given in deployment.sources:
        return given
    entity = None
    if given is not None:
        for e in deployment.entities:
            if given in (e.name, f"{e.name}s", deployment.entity_noun):
                entity = e.name
    elif deployment.label is not None:
        entity = deployment.sources[deployment.label.source].entity
    if entity is None:
        problems.append(
            f"entity_df_source '{given}' is neither a source ({', '.join(deployment.sources)}) "
            f"nor an entity ({', '.join(e.name for e in deployment.entities)})"
        )
        return None
    found = [
        name
        for name, spec in deployment.sources.items()
        if spec.entity == entity
        and data.label_column in spec.schema.names
        and spec.timestamp_field == data.event_timestamp_column
    ]
    if not found:
        problems.append(
            f"no source of entity '{entity}' holds label column '{data.label_column}' with "
            f"timestamp '{data.event_timestamp_column}'"
        )
        return None
    return found[0]


def _features(repo: FeatureRepo, data: seed.TrainingDataConfig) -> dict[str, Any]:
    from potluck.services.feature_views import list_feature_views

    if data.feature_service:
        return {"feature_service": data.feature_service}
    if data.feature_views:
        views = {v.name: v for v in list_feature_views(repo)}
        missing = [v for v in data.feature_views if v not in views]
        if missing:
            raise InvalidInputError(
                "training request", [f"unknown feature view '{v}'" for v in missing]
            )
        return {"features": [f"{v}:{f.name}" for v in data.feature_views for f in views[v].fields]}
    return {"feature_service": active_deployment(repo.settings).model.feature_service}


def train(
    settings: Settings, repo: FeatureRepo, body: seed.ModelTrainingRequest
) -> seed.ModelTrainingResponse:
    from potluck.schemas.models import HyperparametersCreate, LabelCreate, TimeRange, TrainingCreate
    from potluck.services.models import plan_training, run_training

    deployment = active_deployment(settings)
    problems: list[str] = []
    if body.framework not in _FRAMEWORKS:
        problems.append(f"framework '{body.framework}' is not supported ({', '.join(_FRAMEWORKS)})")
    if body.model_type not in _TASKS:
        problems.append(f"model_type '{body.model_type}' is not supported ({', '.join(_TASKS)})")
    if body.auto_tune:
        problems.append("auto_tune is not supported: give hyperparameters.params")
    data = body.training_data
    source = _label_source(deployment, data, problems)
    declared = deployment.sources.get(source) if source else None
    if declared is not None and declared.timestamp_field != data.event_timestamp_column:
        problems.append(
            f"event_timestamp_column '{data.event_timestamp_column}' is not the timestamp of "
            f"source '{source}' ({declared.timestamp_field})"
        )
    params = body.hyperparameters.params
    hp = build(
        HyperparametersCreate,
        "hyperparameters.params",
        problems,
        **{k: v for k, v in params.items() if k in ("n_estimators", "max_depth", "learning_rate")},
        seed=body.random_state,
    )
    unknown = sorted(set(params) - {"n_estimators", "max_depth", "learning_rate"})
    if unknown:
        problems.append(f"hyperparameters.params: unsupported {', '.join(unknown)}")
    if problems:
        raise InvalidInputError("training request", problems)
    spec = build(
        TrainingCreate,
        "training request",
        problems,
        name=body.name,
        framework=body.framework,
        model_type=body.model_type,
        label=LabelCreate(source=source or "", column=data.label_column),
        time_range=TimeRange(start=data.start_date, end=data.end_date),
        test_fraction=max(body.test_size, 0.05),
        hyperparameters=hp,
        **_features(repo, data),
    )
    if spec is None:
        raise InvalidInputError("training request", problems)
    plan = plan_training(repo, spec)
    started = time.perf_counter()
    result = run_training(settings, repo, plan, lambda fraction, stage: None)
    return seed.ModelTrainingResponse(
        model_id=f"{result['name']}:{result['version']}",
        name=result["name"],
        version=str(result["version"]),
        framework=body.framework,
        model_type=body.model_type,
        status="completed",
        metrics={"test_metrics": result["metrics"]},
        training_duration_seconds=round(time.perf_counter() - started, 3),
        created_at=datetime.now(UTC),
    )


def list_models(settings: Settings) -> list[seed.ModelInfo]:
    from potluck.ml import registry

    out = []
    for summary in registry.list_models(settings):
        for v in registry.model_versions(settings, summary["name"]):
            out.append(
                seed.ModelInfo(
                    model_id=f"{v.name}:{v.version}",
                    name=v.name,
                    version=str(v.version),
                    framework=v.params.get("framework", "unknown"),
                    model_type=str(v.lineage.get("model_type", "classification")),
                    status="production" if "production" in v.aliases else "completed",
                    created_at=datetime.fromtimestamp(v.created_at / 1000, UTC),
                    metrics=v.metrics,
                )
            )
    return out


# ------------------------------------------------------------------ predictions
def predict_online(
    repo: FeatureRepo, cache: ModelCache, body: seed.OnlinePredictionRequest
) -> seed.PredictionResponse:
    from potluck.schemas.predictions import OnlinePredictionCreate
    from potluck.services import predictions

    started = time.perf_counter()
    name, version = parse_model_id(body.model_id)
    problems: list[str] = []
    spec = build(
        OnlinePredictionCreate,
        "request",
        problems,
        model=name,
        version=version,
        rows=[body.features],
        include_features=True,
    )
    if spec is None:
        raise InvalidInputError("online prediction", problems)
    answer = predictions.predict_online(repo, cache, spec)
    row = answer.predictions[0]
    probabilities = None
    if row.probability is not None:
        probabilities = {"0": round(1.0 - row.probability, 6), "1": round(row.probability, 6)}
    return seed.PredictionResponse(
        prediction_id=uuid.uuid4().hex,
        model_id=f"{answer.model}:{answer.version}",
        model_version=str(answer.version),
        mode="online",
        prediction=row.prediction,
        probabilities=probabilities,
        features_used=row.features if body.include_feature_values else None,
        created_at=datetime.now(UTC),
        execution_time_seconds=round(time.perf_counter() - started, 6),
        status="completed"
        if row.status == "ok"
        else f"completed ({row.status}: missing {', '.join(row.missing)})",
    )


def predict_batch(
    settings: Settings, repo: FeatureRepo, cache: ModelCache, body: seed.BatchPredictionRequest
) -> seed.PredictionResponse:
    from potluck.schemas.predictions import BatchPredictionCreate, SourceFrameCreate
    from potluck.services import predictions

    started = time.perf_counter()
    deployment = active_deployment(settings)
    problems: list[str] = []
    declared = deployment.sources.get(body.input_table)
    if declared is None:
        problems.append(
            f"input_table '{body.input_table}' is not a source ({', '.join(deployment.sources)})"
        )
    else:
        keys = deployment.join_keys_of(body.input_table)
        if list(body.entity_columns) != keys:
            problems.append(f"entity_columns of '{body.input_table}' are {keys}")
        ts = body.event_timestamp_column
        if ts is not None and ts != declared.timestamp_field:
            problems.append(
                f"event_timestamp_column of '{body.input_table}' is '{declared.timestamp_field}'"
            )
    name, version = parse_model_id(body.model_id)
    spec = build(
        BatchPredictionCreate,
        "request",
        problems,
        model=name,
        version=version,
        source=SourceFrameCreate(source=body.input_table),
        output="iceberg",
        output_table=body.output_table,
        output_namespace=body.output_schema,
        prediction_column=body.prediction_column_name,
    )
    if problems or spec is None:
        raise InvalidInputError("batch prediction", problems)
    done = predictions.predict_batch(settings, repo, cache, spec)
    return seed.PredictionResponse(
        prediction_id=uuid.uuid4().hex,
        model_id=f"{done.model}:{done.version}",
        model_version=str(done.version),
        mode="batch",
        output_table=done.output_table,
        num_predictions=done.rows,
        created_at=datetime.now(UTC),
        execution_time_seconds=round(time.perf_counter() - started, 3),
        status="completed",
    )
