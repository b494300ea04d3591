"""MLflow tracking and model registry (SQLite backend + local artifacts embedded).

A registered version carries what serving needs to reproduce training: the
ordered feature list, which of them are categorical, the feature service (or
feature refs), the label, the model type and a fingerprint of the training
set. Promotion uses MLflow *aliases* (stages are deprecated in MLflow 3): a
version promoted to ``production`` is what predictions use by default.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from potluck.deployment import default_model_name
from potluck.errors import NotFoundError, RequestError
from potluck.settings import Settings

__all__ = [
    "DEFAULT_ALIAS",
    "NAME_PATTERN",
    "LoadedModel",
    "ModelVersionInfo",
    "VersionDetail",
    "configure_mlflow",
    "list_models",
    "load_model",
    "log_and_register",
    "mark_interrupted",
    "model_versions",
    "promote",
    "resolve_version",
]

EXPERIMENT = "potluck"
DEFAULT_ALIAS = "production"
# Model names and aliases end up in MLflow filter strings: only these characters pass.
NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$"
_NAME = re.compile(NAME_PATTERN)
_TAG = "potluck."
_configured: set[str] = set()
_configure_lock = threading.Lock()


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
    feature_refs: list[str] = field(default_factory=list)
    model_type: str = "classification"
    label: str = ""


@dataclass(frozen=True)
class VersionDetail:
    name: str
    version: int
    run_id: str
    created_at: int  # ms since the epoch, as MLflow keeps it
    aliases: list[str]
    metrics: dict[str, float]
    params: dict[str, str]
    lineage: dict[str, Any]


def check_name(value: str, what: str = "model name") -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise RequestError(f"{what} must match {NAME_PATTERN}, got {value!r}")
    return value


def check_alias(alias: str) -> str:
    """An alias MLflow accepts: the name alphabet without '.', not latest / v<number>."""
    from potluck.schemas.common import RESERVED_ALIAS

    if not isinstance(alias, str) or "." in alias or RESERVED_ALIAS.fullmatch(alias):
        raise RequestError(
            f"alias {alias!r} is reserved or malformed (letters, digits, '_', '-'; "
            "not 'latest' or 'v<number>')"
        )
    return check_name(alias, "alias")


def configure_mlflow(settings: Settings) -> Any:
    """Point MLflow at the profile's tracking store; returns the mlflow module."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    for noisy in ("mlflow", "alembic"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    import mlflow
    import mlflow.sklearn

    uri = settings.mlflow_uri
    with _configure_lock:
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        # Creating/looking up the experiment is a database round trip: once per store.
        if uri not in _configured:
            settings.home.resolve().mkdir(parents=True, exist_ok=True)
            from potluck.profiles import prepare_mlflow_store

            prepare_mlflow_store(settings)  # services: MLflow's database, bucket, S3 env
            if mlflow.get_experiment_by_name(EXPERIMENT) is None:
                mlflow.create_experiment(
                    EXPERIMENT, artifact_location=settings.mlflow_artifact_location
                )
            _configured.add(uri)
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
    name: str | None = None,
    feature_refs: list[str] | None = None,
    model_type: str = "classification",
    label: str = "",
    lineage: dict[str, str] | None = None,
) -> ModelVersionInfo:
    name = check_name(name or default_model_name(settings))
    mlflow = configure_mlflow(settings)

    # Lineage (the API's job id among it) is tagged when the run starts, so a process
    # killed mid-run leaves a run that recovery can find (see mark_interrupted).
    start_tags = {f"{_TAG}{k}": v for k, v in (lineage or {}).items()}
    with mlflow.start_run(tags=start_tags) as run:
        mlflow.log_params({**params, "feature_service": feature_service, "training_rows": rows})
        mlflow.log_metrics({k: v for k, v in metrics.items() if v == v})  # NaN is not loggable
        mlflow.set_tags(
            {
                f"{_TAG}features": json.dumps(features),
                f"{_TAG}categorical": json.dumps(categorical),
                f"{_TAG}feature_service": feature_service,
                f"{_TAG}feature_refs": json.dumps(feature_refs or []),
                f"{_TAG}training_set_fingerprint": fingerprint,
                f"{_TAG}training_rows": str(rows),
                f"{_TAG}model_type": model_type,
                f"{_TAG}label": label,
            }
        )
        logged = mlflow.sklearn.log_model(
            model,
            name="model",
            registered_model_name=name,
            serialization_format="pickle",
        )
    version = int(logged.registered_model_version)
    return ModelVersionInfo(name=name, version=version, run_id=run.info.run_id)


def _client(settings: Settings) -> Any:
    return configure_mlflow(settings).MlflowClient()


def resolve_version(
    settings: Settings, name: str, version: int | None = None, alias: str | None = None
) -> int:
    """An explicit version, else the alias's version, else ``production``, else the latest."""
    from mlflow.exceptions import MlflowException

    check_name(name)
    client = _client(settings)
    if version is not None:
        return version
    if alias is not None:
        check_name(alias, "alias")
        try:
            return int(client.get_model_version_by_alias(name, alias).version)
        except MlflowException:
            raise NotFoundError(
                f"model '{name}' has no version with alias '{alias}' (promote one, or ask "
                "for a version)"
            ) from None
    try:
        return int(client.get_model_version_by_alias(name, DEFAULT_ALIAS).version)
    except MlflowException:
        pass
    versions = client.search_model_versions(f"name='{name}'")
    if not versions:
        raise NotFoundError(f"model '{name}' has no registered versions (train one first)")
    return max(int(v.version) for v in versions)


def load_model(
    settings: Settings, name: str | None = None, version: int | None = None
) -> LoadedModel:
    """Load a registered version (the latest when ``version`` is None)."""
    mlflow = configure_mlflow(settings)
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient()
    name = check_name(name or default_model_name(settings))
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
        features=json.loads(tags[f"{_TAG}features"]),
        categorical=json.loads(tags[f"{_TAG}categorical"]),
        feature_service=tags.get(f"{_TAG}feature_service", ""),
        feature_refs=json.loads(tags.get(f"{_TAG}feature_refs", "[]")),
        model_type=tags.get(f"{_TAG}model_type", "classification"),
        label=tags.get(f"{_TAG}label", ""),
    )


def _lineage(tags: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tags.items():
        if not key.startswith(_TAG):
            continue
        short = key[len(_TAG) :]
        if short in ("features", "categorical", "feature_refs"):
            out[short] = json.loads(value)
        elif short == "training_rows":
            out[short] = int(value)
        else:
            out[short] = value
    return out


def model_versions(settings: Settings, name: str) -> list[VersionDetail]:
    """Every version of ``name``, newest first, with metrics, params, aliases and lineage."""
    check_name(name)
    client = _client(settings)
    versions = client.search_model_versions(f"name='{name}'")
    if not versions:
        raise NotFoundError(f"model '{name}' is not registered")
    # Version search results carry no aliases on every backend; the registered model does.
    by_version: dict[int, list[str]] = {}
    for alias, number in (client.get_registered_model(name).aliases or {}).items():
        by_version.setdefault(int(number), []).append(alias)
    details = []
    for mv in sorted(versions, key=lambda v: int(v.version), reverse=True):
        run = client.get_run(mv.run_id)
        details.append(
            VersionDetail(
                name=name,
                version=int(mv.version),
                run_id=mv.run_id,
                created_at=int(mv.creation_timestamp or 0),
                aliases=sorted(by_version.get(int(mv.version), [])),
                metrics={k: float(v) for k, v in run.data.metrics.items()},
                params=dict(run.data.params),
                lineage=_lineage(dict(run.data.tags)),
            )
        )
    return details


def list_models(settings: Settings) -> list[dict[str, Any]]:
    """Registered models: name, latest version, aliases (alias -> version)."""
    client = _client(settings)
    models = []
    for rm in client.search_registered_models(max_results=1000):
        versions = client.search_model_versions(f"name='{check_name(rm.name)}'")
        models.append(
            {
                "name": rm.name,
                "description": rm.description or "",
                "latest_version": max((int(v.version) for v in versions), default=0),
                "versions": len(versions),
                "aliases": {k: int(v) for k, v in (rm.aliases or {}).items()},
            }
        )
    return sorted(models, key=lambda m: m["name"])


def mark_interrupted(settings: Settings, job_ids: list[str]) -> dict[str, int]:
    """Runs of these API jobs still RUNNING -> FAILED, their PENDING logged models ->
    FAILED, and model versions still PENDING_REGISTRATION deleted. Counts of each."""
    client = _client(settings)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    counts = {"runs": 0, "logged_models": 0, "versions": 0}
    if experiment is None or not job_ids:
        return counts
    wanted = {j for j in job_ids if re.fullmatch(r"[0-9a-f]{32}", j)}
    runs = [
        run
        for run in client.search_runs([experiment.experiment_id], "attributes.status = 'RUNNING'")
        if run.data.tags.get(f"{_TAG}job_id") in wanted
    ]
    run_ids = {run.info.run_id for run in runs}
    for run in runs:
        client.set_terminated(run.info.run_id, status="FAILED")
        counts["runs"] += 1
    for model in client.search_logged_models([experiment.experiment_id]):
        status = str(getattr(model.status, "name", model.status))
        if model.source_run_id in run_ids and status.endswith("PENDING"):
            client.finalize_logged_model(model.model_id, "FAILED")
            counts["logged_models"] += 1
    for run_id in run_ids:
        for mv in client.search_model_versions(f"run_id='{run_id}'"):
            if str(mv.status) == "PENDING_REGISTRATION":
                client.delete_model_version(mv.name, mv.version)
                counts["versions"] += 1
    return counts


def promote(settings: Settings, name: str, version: int, alias: str = DEFAULT_ALIAS) -> None:
    """Point ``alias`` at ``version`` (moving it off any other version)."""
    from mlflow.exceptions import MlflowException

    check_name(name)
    check_alias(alias)
    client = _client(settings)
    try:
        client.get_model_version(name, str(version))
    except MlflowException:
        raise NotFoundError(f"model '{name}' version {version} is not registered") from None
    client.set_registered_model_alias(name, alias, str(version))
