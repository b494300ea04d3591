"""Training set, training + registration, and online prediction for the active deployment."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from potluck.deployment import Deployment, active_deployment, default_model_name
from potluck.errors import ConfigurationError
from potluck.services.training import TIME, fingerprint, fit_and_register
from potluck.settings import Settings
from potluck.workflows.data import read_source_table

if TYPE_CHECKING:
    from potluck.features.repo import FeatureRepo
    from potluck.ml.train import Framework

__all__ = [
    "TrainSummary",
    "build_training_set",
    "fingerprint",
    "predict_online",
    "serving_features",
    "train_model",
    "training_set_path",
]


def training_set_path(settings: Settings) -> Any:
    return settings.data_dir / "training_set.parquet"


def _label(deployment: Deployment) -> Any:
    if deployment.label is None:
        raise ConfigurationError(
            f"deployment '{deployment.name}' declares no label: nothing to train on"
        )
    return deployment.label


def label_rows(settings: Settings, deployment: Deployment) -> pa.Table:
    """The label source's (keys, event_timestamp, label[, oracle]) rows with a label and a
    time: the entity frame of the training set."""
    label = _label(deployment)
    spec = deployment.sources[label.source]
    keys = deployment.join_keys_of(label.source)
    table = read_source_table(settings, label.source)
    columns = [*keys, spec.timestamp_field, label.column]
    if label.oracle_column and label.oracle_column in table.column_names:
        columns.append(label.oracle_column)
    table = table.select(columns)
    table = table.rename_columns([TIME if c == spec.timestamp_field else c for c in columns])
    keep = pc.and_(pc.is_valid(table[label.column]), pc.is_valid(table[TIME]))
    return table.filter(keep)


def build_training_set(
    settings: Settings, repo: FeatureRepo, service: str | None = None
) -> pa.Table:
    """Label rows joined point-in-time with ``service`` (default: the model's), across all
    sources, written to ``training_set.parquet``."""
    from potluck.features.retrieval import historical_features
    from potluck.offline.job import arrow_to_pandas

    deployment = active_deployment(settings)
    label = _label(deployment)
    service = service or deployment.model.feature_service
    rows = label_rows(settings, deployment)
    entity_columns = [*deployment.join_keys_of(label.source), TIME, label.column]
    table = historical_features(repo, arrow_to_pandas(rows.select(entity_columns)), service)
    # Feast also returns the inputs of on-demand views; a training set is exactly
    # the entity columns plus the service's features, in the service's order.
    table = table.select(entity_columns + repo.resolve(service).names)
    table = table.replace_schema_metadata({b"potluck.feature_service": service.encode()})
    path = training_set_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, coerce_timestamps="us")
    return table


@dataclass(frozen=True)
class TrainSummary:
    name: str
    version: int
    model_type: str
    metrics: dict[str, float]
    train_rows: int
    test_rows: int
    oracle: dict[str, float] = field(default_factory=dict)

    @property
    def auc(self) -> float:
        return self.metrics.get("roc_auc", float("nan"))

    @property
    def oracle_auc(self) -> float:
        return self.oracle.get("oracle_auc", float("nan"))


def train_model(
    settings: Settings,
    framework: Framework | None = None,
    *,
    split: str = "time",
    seed: int = 0,
) -> TrainSummary:
    """Train on the saved training set, judge against the oracle (when the deployment
    declares one), register in MLflow."""
    deployment = active_deployment(settings)
    label = _label(deployment)
    path = training_set_path(settings)
    if not path.exists():
        raise ConfigurationError("no training set yet: run `potluck training-set` first")
    table = pq.read_table(path)
    service = (table.schema.metadata or {}).get(b"potluck.feature_service", b"").decode()
    keys = deployment.join_keys_of(label.source)
    features = [c for c in table.column_names if c not in (*keys, TIME, label.column)]
    oracle = None
    if label.oracle_column:
        truth = label_rows(settings, deployment)
        if label.oracle_column in truth.column_names and truth.num_rows == table.num_rows:
            # row-aligned: the training set keeps the label rows' order
            oracle = truth[label.oracle_column].to_numpy(zero_copy_only=False).astype("float64")
    chosen = framework or deployment.model.framework
    trained = fit_and_register(
        settings,
        table,
        name=default_model_name(settings),
        features=features,
        label=label.column,
        model_type=label.task,
        framework=chosen,  # type: ignore[arg-type]
        feature_service=service,
        oracle=oracle,
        split=split,
        seed=seed,
    )
    return TrainSummary(
        name=trained.name,
        version=trained.version,
        model_type=trained.model_type,
        metrics=trained.metrics,
        train_rows=trained.train_rows,
        test_rows=trained.test_rows,
        oracle=trained.oracle,
    )


def serving_features(loaded: Any, deployment: Deployment) -> str | list[str]:
    """The features a registered model reads: its recorded service or refs, else the
    deployment's default service."""
    return loaded.feature_service or loaded.feature_refs or deployment.model.feature_service  # type: ignore[no-any-return]


def predict_online(
    settings: Settings,
    repo: FeatureRepo,
    entity_ids: list[Any],
    version: int | None = None,
    at: datetime | None = None,
) -> list[dict[str, Any]]:
    """Online features for each entity (of the label's entity) read at ``at`` (default:
    now) and the registered model's score: the same scorer the API uses."""
    from potluck.ml.registry import load_model
    from potluck.ml.scoring import Scorer
    from potluck.online.reads import entity_columns, online_features

    deployment = active_deployment(settings)
    loaded = load_model(settings, version=version)
    service = serving_features(loaded, deployment)
    keys = entity_columns(deployment.primary_entity, entity_ids)
    rows = online_features(repo, service, keys, now=at)
    scored = Scorer(loaded).score_rows(rows)
    key_names = list(keys)
    out = []
    for i, row in enumerate(rows):
        found = bool(row["_found"])
        entry: dict[str, Any] = {k: row[k] for k in key_names}
        entry["prediction"] = round(float(scored.scores[i]), 6) if found else None
        entry["status"] = row["_status"]
        entry["model_version"] = loaded.info.version
        out.append(entry)
    return out
