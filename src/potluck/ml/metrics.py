"""Test-split metrics logged with every model (names are the MLflow metric keys)."""

from __future__ import annotations

import numpy as np

__all__ = [
    "CLASSIFICATION_METRICS",
    "REGRESSION_METRICS",
    "classification_metrics",
    "regression_metrics",
]

CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")
REGRESSION_METRICS = ("mse", "mae", "r2")


def classification_metrics(
    truth: np.ndarray, scores: np.ndarray, threshold: float = 0.5
) -> dict[str, float]:
    """Accuracy, precision, recall, F1 at ``threshold``; ROC AUC on the scores."""
    from sklearn.metrics import (
        accuracy_score,
        f1_score,
        precision_score,
        recall_score,
        roc_auc_score,
    )

    predicted = (scores >= threshold).astype(int)
    auc = float(roc_auc_score(truth, scores)) if len(np.unique(truth)) > 1 else float("nan")
    return {
        "accuracy": float(accuracy_score(truth, predicted)),
        "precision": float(precision_score(truth, predicted, zero_division=0)),
        "recall": float(recall_score(truth, predicted, zero_division=0)),
        "f1": float(f1_score(truth, predicted, zero_division=0)),
        "roc_auc": auc,
    }


def regression_metrics(truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Mean squared error, mean absolute error, R²."""
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    return {
        "mse": float(mean_squared_error(truth, predicted)),
        "mae": float(mean_absolute_error(truth, predicted)),
        "r2": float(r2_score(truth, predicted)),
    }
