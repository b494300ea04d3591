"""Training and registration: the one path the CLI and the API both take.

:func:`fit_and_register` fits on a point-in-time training table, judges the
model (against the deployment's oracle where one is declared), and registers it
in MLflow with everything needed to serve it (features, categorical columns,
feature service or refs, label, fingerprint of the training set).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

if TYPE_CHECKING:
    from potluck.ml.train import Framework, Hyperparameters, ModelType
    from potluck.settings import Settings

__all__ = ["TIME", "Trained", "fingerprint", "fit_and_register"]

TIME = "event_timestamp"


def fingerprint(table: pa.Table) -> str:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()[:16]


@dataclass(frozen=True)
class Trained:
    name: str
    version: int
    run_id: str
    model_type: str
    metrics: dict[str, float]
    train_rows: int
    test_rows: int
    fingerprint: str
    oracle: dict[str, float] = field(default_factory=dict)


def _oracle_metrics(model_type: str, truth: np.ndarray, oracle: np.ndarray) -> dict[str, float]:
    """The oracle's score on the same test rows, under the metrics' names."""
    from potluck.ml.metrics import classification_metrics, regression_metrics

    keep = ~np.isnan(oracle)
    if keep.sum() < 2:
        return {}
    if model_type == "classification":
        if len(np.unique(truth[keep])) < 2:
            return {}
        return {"oracle_auc": classification_metrics(truth[keep], oracle[keep])["roc_auc"]}
    metrics = regression_metrics(truth[keep], oracle[keep])
    return {f"oracle_{k}": v for k, v in metrics.items()}


def fit_and_register(
    settings: Settings,
    table: pa.Table,
    *,
    name: str,
    features: Sequence[str],
    label: str,
    model_type: ModelType,
    framework: Framework,
    feature_service: str = "",
    feature_refs: Sequence[str] = (),
    oracle: np.ndarray | None = None,
    test_fraction: float = 0.25,
    hyperparameters: Hyperparameters | None = None,
    split: str = "time",
    seed: int = 0,
    lineage: dict[str, str] | None = None,
) -> Trained:
    """Fit ``framework`` on ``table`` (label + features + ``event_timestamp``), evaluate on
    the held-out split, and register the model. ``oracle``: the best possible score per
    row (aligned with ``table``), reported next to the model's."""
    from potluck.ml.registry import log_and_register
    from potluck.ml.train import train_estimator
    from potluck.offline.job import arrow_to_pandas

    frame = arrow_to_pandas(table)
    result = train_estimator(
        frame,
        list(features),
        label,
        TIME,
        framework=framework,
        model_type=model_type,
        test_fraction=test_fraction,
        hyperparameters=hyperparameters,
        split=split,
        seed=seed,
    )
    oracle_metrics: dict[str, float] = {}
    if oracle is not None:
        rows = frame.index.get_indexer(result.test_index)
        truth = frame[label].to_numpy(dtype="float64")[rows]
        oracle_metrics = _oracle_metrics(model_type, truth, np.asarray(oracle, "float64")[rows])
    digest = fingerprint(table)
    info = log_and_register(
        settings,
        name=name,
        model=result.model,
        features=result.features,
        categorical=result.categorical,
        metrics={**result.metrics, **oracle_metrics},
        params={**result.params, "label": label},
        feature_service=feature_service,
        feature_refs=list(feature_refs),
        fingerprint=digest,
        rows=table.num_rows,
        model_type=model_type,
        label=label,
        lineage=lineage,
    )
    return Trained(
        name=info.name,
        version=info.version,
        run_id=info.run_id,
        model_type=model_type,
        metrics=result.metrics,
        train_rows=result.train_rows,
        test_rows=result.test_rows,
        fingerprint=digest,
        oracle=oracle_metrics,
    )


def json_metrics(values: dict[str, Any]) -> dict[str, float]:
    return {k: round(float(v), 6) for k, v in values.items() if v == v}
