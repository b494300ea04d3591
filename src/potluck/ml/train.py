"""Train a classifier on a point-in-time training set, split by time.

Categorical features are ordinal-encoded with missing/unknown values kept as
NaN, which both gradient-boosting back-ends treat as "missing" natively; no
imputation hides a TTL gap from the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from potluck.errors import ModelError

__all__ = ["Framework", "TrainResult", "split_by_time", "to_model_frame", "train_classifier"]

Framework = Literal["sklearn", "xgboost"]


@dataclass
class TrainResult:
    model: Any
    features: list[str]
    categorical: list[str]
    metrics: dict[str, float]
    test_index: pd.Index
    test_scores: np.ndarray
    train_rows: int
    test_rows: int


def to_model_frame(
    frame: pd.DataFrame, features: Sequence[str], categorical: Sequence[str]
) -> pd.DataFrame:
    """Numeric columns as float64 (NA -> NaN), categorical as object (NA -> None)."""
    out = pd.DataFrame(index=frame.index)
    for name in features:
        column = frame[name] if name in frame.columns else pd.Series(np.nan, index=frame.index)
        if name in categorical:
            out[name] = column.astype(object).where(column.notna(), None)
        else:
            out[name] = pd.to_numeric(column, errors="coerce").astype("float64")
    return out


def split_by_time(
    frame: pd.DataFrame, time_column: str, test_fraction: float
) -> tuple[pd.Index, pd.Index]:
    """The latest ``test_fraction`` of rows (by time) are the test set."""
    order = frame[time_column].sort_values(kind="stable").index
    cut = int(len(order) * (1 - test_fraction))
    return order[:cut], order[cut:]


def _pipeline(framework: Framework, features: list[str], categorical: list[str]) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    encoder = ColumnTransformer(
        [
            (
                "categorical",
                OrdinalEncoder(
                    handle_unknown="use_encoded_value",
                    unknown_value=np.nan,
                    encoded_missing_value=np.nan,
                ),
                categorical,
            )
        ],
        remainder="passthrough",
        verbose_feature_names_out=False,
    )
    is_categorical = [True] * len(categorical) + [False] * (len(features) - len(categorical))
    if framework == "xgboost":
        from xgboost import XGBClassifier

        model: Any = XGBClassifier(
            n_estimators=300,
            max_depth=4,
            learning_rate=0.05,
            subsample=0.9,
            tree_method="hist",
            n_jobs=2,
        )
    else:
        from sklearn.ensemble import HistGradientBoostingClassifier

        model = HistGradientBoostingClassifier(
            max_iter=300,
            learning_rate=0.05,
            max_leaf_nodes=15,
            categorical_features=is_categorical,
            early_stopping=True,
            validation_fraction=0.15,
            random_state=0,
        )
    return Pipeline([("encode", encoder), ("model", model)])


def train_classifier(
    frame: pd.DataFrame,
    features: Sequence[str],
    label: str,
    time_column: str,
    *,
    framework: Framework = "sklearn",
    test_fraction: float = 0.25,
) -> TrainResult:
    """Fit on the earliest rows, evaluate on the latest; metrics on the test split."""
    from sklearn.metrics import (
        accuracy_score,
        f1_score,
        precision_score,
        recall_score,
        roc_auc_score,
    )

    if label in features:
        raise ModelError(f"the label '{label}' cannot be a feature")
    if label not in frame.columns:
        raise ModelError(f"training set has no label column '{label}'")
    frame = frame[frame[label].notna()]
    y = frame[label].astype(int)
    if y.nunique() < 2:
        raise ModelError(f"label '{label}' has a single class in the training set")
    categorical = [
        f
        for f in features
        if f in frame.columns
        and not pd.api.types.is_numeric_dtype(frame[f])
        and not pd.api.types.is_bool_dtype(frame[f])
    ]
    ordered = categorical + [f for f in features if f not in categorical]
    x = to_model_frame(frame, ordered, categorical)
    train_idx, test_idx = split_by_time(frame, time_column, test_fraction)
    if y.loc[test_idx].nunique() < 2 or y.loc[train_idx].nunique() < 2:
        raise ModelError("train or test split has a single class; use more rows")
    pipeline = _pipeline(framework, ordered, categorical)
    pipeline.fit(x.loc[train_idx], y.loc[train_idx])
    scores = pipeline.predict_proba(x.loc[test_idx])[:, 1]
    predicted = (scores >= 0.5).astype(int)
    truth = y.loc[test_idx].to_numpy()
    metrics = {
        "roc_auc": float(roc_auc_score(truth, scores)),
        "accuracy": float(accuracy_score(truth, predicted)),
        "precision": float(precision_score(truth, predicted, zero_division=0)),
        "recall": float(recall_score(truth, predicted, zero_division=0)),
        "f1": float(f1_score(truth, predicted, zero_division=0)),
    }
    return TrainResult(
        model=pipeline,
        features=ordered,
        categorical=categorical,
        metrics=metrics,
        test_index=test_idx,
        test_scores=scores,
        train_rows=len(train_idx),
        test_rows=len(test_idx),
    )
