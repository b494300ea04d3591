"""Train a classifier or regressor on a point-in-time training set, split by time.

Categorical features are ordinal-encoded with missing/unknown values kept as
NaN, which every gradient-boosting back-end here (scikit-learn, XGBoost,
LightGBM) treats as "missing" natively; no imputation hides a TTL gap from the
model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from potluck.errors import ModelError
from potluck.ml.categories import describe, fold, plan_folds
from potluck.ml.metrics import classification_metrics, regression_metrics

__all__ = [
    "FRAMEWORKS",
    "MODEL_TYPES",
    "Framework",
    "Hyperparameters",
    "ModelType",
    "TrainResult",
    "split_by_time",
    "to_model_frame",
    "train_classifier",
    "train_estimator",
]

Framework = Literal["sklearn", "xgboost", "lightgbm"]
ModelType = Literal["classification", "regression"]
FRAMEWORKS: tuple[Framework, ...] = ("sklearn", "xgboost", "lightgbm")
MODEL_TYPES: tuple[ModelType, ...] = ("classification", "regression")


@dataclass(frozen=True)
class Hyperparameters:
    """The few knobs exposed to callers; every back-end maps them to its own names."""

    n_estimators: int = 300
    max_depth: int | None = None  # None: the back-end's own default depth rule
    learning_rate: float = 0.05
    seed: int = 0


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
    model_type: ModelType = "classification"
    params: dict[str, Any] = field(default_factory=dict)


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


SPLITS = ("time", "random", "stratified")


def split_rows(
    frame: pd.DataFrame,
    *,
    split: str,
    time_column: str,
    test_fraction: float,
    seed: int = 0,
    label: str | None = None,
) -> tuple[pd.Index, pd.Index]:
    """Train and test rows: ``time`` (the latest rows test; the default, no look-ahead),
    ``random`` (seeded shuffle) or ``stratified`` (seeded, each class in proportion)."""
    if split == "time":
        return split_by_time(frame, time_column, test_fraction)
    if split not in SPLITS:
        raise ModelError(f"unknown split '{split}' (one of {', '.join(SPLITS)})")
    rng = np.random.default_rng(seed)
    if split == "random" or label is None:
        order = frame.index[rng.permutation(len(frame))]
        cut = int(len(order) * (1 - test_fraction))
        return order[:cut], order[cut:]
    train: list[pd.Index] = []
    test: list[pd.Index] = []
    for _, group in frame.groupby(label, sort=True):
        order = group.index[rng.permutation(len(group))]
        n_test = max(1, round(len(order) * test_fraction)) if len(order) > 1 else 0
        test.append(order[:n_test])
        train.append(order[n_test:])
    return train[0].append(train[1:]), test[0].append(test[1:])


def tied_times(frame: pd.DataFrame, time_column: str) -> int:
    """Rows sharing their timestamp with another row (a time split cuts between equals)."""
    return int(frame[time_column].duplicated(keep=False).sum())


def _class_counts(y: pd.Series, index: pd.Index) -> str:
    counts = y.loc[index].value_counts().sort_index()
    return ", ".join(f"{k}: {v}" for k, v in counts.items()) or "no rows"


def _estimator(
    framework: Framework, model_type: ModelType, is_categorical: list[bool], hp: Hyperparameters
) -> Any:
    classify = model_type == "classification"
    if framework in ("xgboost", "lightgbm"):
        import importlib.util

        if importlib.util.find_spec(framework) is None:
            package = "xgboost-cpu" if framework == "xgboost" else framework
            raise ModelError(f"framework '{framework}' is not installed: pip install {package}")
    if framework == "xgboost":
        from xgboost import XGBClassifier, XGBRegressor

        xgb = XGBClassifier if classify else XGBRegressor
        return xgb(
            n_estimators=hp.n_estimators,
            max_depth=hp.max_depth or 4,
            learning_rate=hp.learning_rate,
            subsample=0.9,
            tree_method="hist",
            n_jobs=2,
            random_state=hp.seed,
        )
    if framework == "lightgbm":
        from lightgbm import LGBMClassifier, LGBMRegressor

        lgbm = LGBMClassifier if classify else LGBMRegressor
        return lgbm(
            n_estimators=hp.n_estimators,
            max_depth=hp.max_depth or -1,
            num_leaves=max(2, min(2**hp.max_depth - 1, 15)) if hp.max_depth else 15,
            learning_rate=hp.learning_rate,
            subsample=0.9,
            subsample_freq=1,
            n_jobs=2,
            random_state=hp.seed,
            verbose=-1,
        )
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    hgb = HistGradientBoostingClassifier if classify else HistGradientBoostingRegressor
    return hgb(
        max_iter=hp.n_estimators,
        learning_rate=hp.learning_rate,
        max_leaf_nodes=15,
        max_depth=hp.max_depth,
        categorical_features=is_categorical,
        early_stopping=True,
        validation_fraction=0.15,
        random_state=hp.seed,
    )


def _pipeline(
    framework: Framework,
    model_type: ModelType,
    features: list[str],
    categorical: list[str],
    hp: Hyperparameters,
) -> Any:
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
    model = _estimator(framework, model_type, is_categorical, hp)
    return Pipeline([("encode", encoder), ("model", model)])


def _categorical(frame: pd.DataFrame, features: Sequence[str]) -> list[str]:
    return [
        f
        for f in features
        if f in frame.columns
        and not pd.api.types.is_numeric_dtype(frame[f])
        and not pd.api.types.is_bool_dtype(frame[f])
    ]


def train_estimator(
    frame: pd.DataFrame,
    features: Sequence[str],
    label: str,
    time_column: str,
    *,
    framework: Framework = "sklearn",
    model_type: ModelType = "classification",
    test_fraction: float = 0.25,
    hyperparameters: Hyperparameters | None = None,
    split: str = "time",
    seed: int = 0,
) -> TrainResult:
    """Fit on the train split, evaluate on the test split (``split_rows``); metrics on the
    test split. Features that are null in every row are dropped (``params`` names them)."""
    hp = hyperparameters or Hyperparameters()
    if framework not in FRAMEWORKS:
        raise ModelError(f"unknown framework '{framework}' (one of {', '.join(FRAMEWORKS)})")
    if model_type not in MODEL_TYPES:
        raise ModelError(f"unknown model type '{model_type}' (one of {', '.join(MODEL_TYPES)})")
    if label in features:
        raise ModelError(f"the label '{label}' cannot be a feature")
    if label not in frame.columns:
        raise ModelError(f"training set has no label column '{label}'")
    if not features:
        raise ModelError("no features to train on")
    frame = frame[frame[label].notna()]
    classify = model_type == "classification"
    try:
        y = frame[label].astype(int) if classify else frame[label].astype("float64")
    except (TypeError, ValueError):
        kind = "integer classes" if classify else "numbers"
        raise ModelError(f"label '{label}' must hold {kind}") from None
    if classify and y.nunique() < 2:
        raise ModelError(
            f"label '{label}' has a single class in the training set ({_class_counts(y, y.index)})"
        )
    if classify and not set(y.unique()) <= {0, 1}:
        raise ModelError(f"label '{label}' must be binary (0/1) for classification")
    empty = [f for f in features if f not in frame.columns or frame[f].isna().all()]
    features = [f for f in features if f not in empty]
    if not features:
        raise ModelError(f"every feature is null in every row: {', '.join(empty)}")
    categorical = _categorical(frame, features)
    ordered = categorical + [f for f in features if f not in categorical]
    x = to_model_frame(frame, ordered, categorical)
    train_idx, test_idx = split_rows(
        frame.assign(**{label: y}),
        split=split,
        time_column=time_column,
        test_fraction=test_fraction,
        seed=seed,
        label=label if classify else None,
    )
    if len(train_idx) < 10 or len(test_idx) < 2:
        raise ModelError(
            f"too few labelled rows to train and test ({len(train_idx)} train, "
            f"{len(test_idx)} test; at least 10 and 2): load more rows"
        )
    tied = tied_times(frame, time_column)
    if classify and (y.loc[test_idx].nunique() < 2 or y.loc[train_idx].nunique() < 2):
        ties = (
            f"; {tied} of {len(frame)} rows share their timestamp, so the time split follows "
            "their order in the file"
            if split == "time" and tied
            else ""
        )
        raise ModelError(
            f"the {split} split leaves a single class on one side (train: "
            f"{_class_counts(y, train_idx)}; test: {_class_counts(y, test_idx)}){ties}; "
            "use more rows or --split stratified"
        )
    folds = plan_folds(x, categorical, train_idx)
    x = fold(x, folds)
    pipeline = _pipeline(framework, model_type, ordered, categorical, hp)
    try:
        pipeline.fit(x.loc[train_idx], y.loc[train_idx])
    except (ValueError, TypeError) as exc:  # the estimator's own refusal, named
        detail = " ".join(str(exc).split())[:300]
        raise ModelError(f"{framework} could not fit this training set: {detail}") from None
    truth = y.loc[test_idx].to_numpy()
    if classify:
        scores = pipeline.predict_proba(x.loc[test_idx])[:, 1]
        metrics = classification_metrics(truth, scores)
    else:
        scores = np.asarray(pipeline.predict(x.loc[test_idx]), dtype="float64")
        metrics = regression_metrics(truth, scores)
    return TrainResult(
        model=pipeline,
        features=ordered,
        categorical=categorical,
        metrics=metrics,
        test_index=test_idx,
        test_scores=scores,
        train_rows=len(train_idx),
        test_rows=len(test_idx),
        model_type=model_type,
        params={
            "framework": framework,
            "model_type": model_type,
            "test_fraction": test_fraction,
            "n_estimators": hp.n_estimators,
            "max_depth": hp.max_depth,
            "learning_rate": hp.learning_rate,
            "seed": hp.seed,
            "split": split,
            "split_seed": seed,
            "tied_timestamps": tied,
            "dropped_all_null": ",".join(empty),
            "folded_categoricals": describe(folds, frame),
        },
    )


def train_classifier(
    frame: pd.DataFrame,
    features: Sequence[str],
    label: str,
    time_column: str,
    *,
    framework: Framework = "sklearn",
    test_fraction: float = 0.25,
    params: Mapping[str, Any] | None = None,
) -> TrainResult:
    """Binary classifier (the deployment's original entry point)."""
    return train_estimator(
        frame,
        features,
        label,
        time_column,
        framework=framework,
        model_type="classification",
        test_fraction=test_fraction,
        hyperparameters=Hyperparameters(**(params or {})),
    )
