"""Training set, training + registration, and online prediction for the deployment."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from potluck.errors import ConfigurationError
from potluck.settings import Settings
from potluck.workflows.data import read_source_table

if TYPE_CHECKING:
    from potluck.features.repo import FeatureRepo
    from potluck.ml.train import Framework

__all__ = [
    "TrainSummary",
    "build_training_set",
    "predict_online",
    "train_model",
    "training_set_path",
]

LABEL = "stroke_occurred"
ENTITY_COLUMNS = ["patient_id", "event_timestamp", LABEL]


def training_set_path(settings: Settings) -> Any:
    return settings.data_dir / "training_set.parquet"


def build_training_set(
    settings: Settings, repo: FeatureRepo, service: str = "stroke_risk_v1"
) -> pa.Table:
    """Label rows from stroke_outcomes joined point-in-time with ``service``, across all sources."""
    from potluck.features.retrieval import historical_features
    from potluck.offline.job import arrow_to_pandas

    outcomes = read_source_table(settings, "stroke_outcomes")
    entity_df = arrow_to_pandas(outcomes.select(ENTITY_COLUMNS))
    table = historical_features(repo, entity_df, service)
    # Feast also returns the inputs of on-demand views; a training set is exactly
    # the entity columns plus the service's features, in the service's order.
    table = table.select(ENTITY_COLUMNS + repo.resolve(service).names)
    table = table.replace_schema_metadata({b"potluck.feature_service": service.encode()})
    path = training_set_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, coerce_timestamps="us")
    return table


def fingerprint(table: pa.Table) -> str:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()[:16]


@dataclass(frozen=True)
class TrainSummary:
    name: str
    version: int
    auc: float
    oracle_auc: float
    metrics: dict[str, float]
    train_rows: int
    test_rows: int


def train_model(settings: Settings, framework: Framework = "sklearn") -> TrainSummary:
    """Train on the saved training set, judge against the oracle, register in MLflow."""
    from sklearn.metrics import roc_auc_score

    from potluck.ml.registry import log_and_register
    from potluck.ml.train import train_classifier
    from potluck.offline.job import arrow_to_pandas

    path = training_set_path(settings)
    if not path.exists():
        raise ConfigurationError("no training set yet: run `potluck training-set` first")
    table = pq.read_table(path)
    service = (table.schema.metadata or {}).get(b"potluck.feature_service", b"").decode()
    frame = arrow_to_pandas(table)
    features = [c for c in frame.columns if c not in ENTITY_COLUMNS]
    result = train_classifier(frame, features, LABEL, "event_timestamp", framework=framework)
    # The generator's true probabilities, row-aligned with the training set (same order).
    truth = (
        read_source_table(settings, "stroke_outcomes")
        .column("stroke_probability")
        .to_numpy(zero_copy_only=False)
    )
    labels = frame[LABEL].astype(int).to_numpy()
    test = frame.index.get_indexer(result.test_index)
    oracle = float(roc_auc_score(labels[test], truth[test]))
    info = log_and_register(
        settings,
        model=result.model,
        features=result.features,
        categorical=result.categorical,
        metrics={**result.metrics, "oracle_auc": oracle},
        params={"framework": framework, "label": LABEL, "test_fraction": 0.25},
        feature_service=service,
        fingerprint=fingerprint(table),
        rows=table.num_rows,
    )
    return TrainSummary(
        name=info.name,
        version=info.version,
        auc=result.metrics["roc_auc"],
        oracle_auc=oracle,
        metrics=result.metrics,
        train_rows=result.train_rows,
        test_rows=result.test_rows,
    )


def predict_online(
    settings: Settings, repo: FeatureRepo, patient_ids: list[str], version: int | None = None
) -> list[dict[str, Any]]:
    """Fetch online features for each patient and apply the registered model."""
    import pandas as pd

    from potluck.ml.registry import load_model
    from potluck.ml.train import to_model_frame
    from potluck.online.reads import online_features

    loaded = load_model(settings, version=version)
    rows = online_features(repo, loaded.feature_service or "stroke_risk_v1", patient_ids)
    frame = to_model_frame(pd.DataFrame(rows), loaded.features, loaded.categorical)
    scores = loaded.model.predict_proba(frame)[:, 1]
    return [
        {
            "patient_id": row["patient_id"],
            "stroke_probability": round(float(score), 6) if row["_found"] else None,
            "status": "ok" if row["_found"] else "unknown_entity",
            "model_version": loaded.info.version,
        }
        for row, score in zip(rows, scores, strict=True)
    ]
