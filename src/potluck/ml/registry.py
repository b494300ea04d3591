"""MLflow tracking and model registry (SQLite backend + local artifacts embedded).

A registered version carries what serving needs to reproduce training: the
ordered feature list, which of them are categorical, the feature service and
a fingerprint of the training set.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from typing import Any

from potluck.errors import NotFoundError
from potluck.settings import Settings

__all__ = ["LoadedModel", "ModelVersionInfo", "configure_mlflow", "load_model", "log_and_register"]

EXPERIMENT = "potluck"


@dataclass(frozen=True)
class ModelVersionInfo:
    name: str
    version: int
    run_id: str


@dataclass(frozen=True)
class LoadedModel:
    info: ModelVersionInfo
    model: Any
    features: list[str]
    categorical: list[str]
    feature_service: str


def configure_mlflow(settings: Settings) -> Any:
    """Point MLflow at the profile's tracking store; returns the mlflow module."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    for noisy in ("mlflow", "alembic"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    import mlflow
    import mlflow.sklearn

    settings.home.resolve().mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(settings.mlflow_uri)
    mlflow.set_registry_uri(settings.mlflow_uri)
    if mlflow.get_experiment_by_name(EXPERIMENT) is None:
        mlflow.create_experiment(EXPERIMENT, artifact_location=settings.mlflow_artifacts.as_uri())
    mlflow.set_experiment(EXPERIMENT)
    return mlflow


def log_and_register(
    settings: Settings,
    *,
    model: Any,
    features: list[str],
    categorical: list[str],
    metrics: dict[str, float],
    params: dict[str, Any],
    feature_service: str,
    fingerprint: str,
    rows: int,
) -> ModelVersionInfo:
    mlflow = configure_mlflow(settings)

    with mlflow.start_run() as run:
        mlflow.log_params({**params, "feature_service": feature_service, "training_rows": rows})
        mlflow.log_metrics(metrics)
        mlflow.set_tags(
            {
                "potluck.features": json.dumps(features),
                "potluck.categorical": json.dumps(categorical),
                "potluck.feature_service": feature_service,
                "potluck.training_set_fingerprint": fingerprint,
            }
        )
        logged = mlflow.sklearn.log_model(
            model,
            name="model",
            registered_model_name=settings.model_name,
            serialization_format="pickle",
        )
    version = int(logged.registered_model_version)
    return ModelVersionInfo(name=settings.model_name, version=version, run_id=run.info.run_id)


def load_model(
    settings: Settings, name: str | None = None, version: int | None = None
) -> LoadedModel:
    """Load a registered version (the latest when ``version`` is None)."""
    mlflow = configure_mlflow(settings)
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient()
    name = name or settings.model_name
    try:
        if version is None:
            versions = client.search_model_versions(f"name='{name}'")
            if not versions:
                raise NotFoundError(
                    f"model '{name}' has no registered versions (run `potluck train`)"
                )
            version = max(int(v.version) for v in versions)
        mv = client.get_model_version(name, str(version))
    except MlflowException:
        raise NotFoundError(f"model '{name}' version {version} is not registered") from None
    run = client.get_run(mv.run_id)
    model = mlflow.sklearn.load_model(f"models:/{name}/{version}")
    tags = run.data.tags
    return LoadedModel(
        info=ModelVersionInfo(name=name, version=int(version), run_id=mv.run_id),
        model=model,
        features=json.loads(tags["potluck.features"]),
        categorical=json.loads(tags["potluck.categorical"]),
        feature_service=tags.get("potluck.feature_service", ""),
    )
