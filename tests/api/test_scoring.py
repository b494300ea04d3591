"""The API's fast scorer gives exactly the registered pipeline's numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from potluck.ml.registry import LoadedModel, ModelVersionInfo
from potluck.ml.scoring import Scorer
from potluck.ml.train import Hyperparameters, TrainResult, to_model_frame, train_estimator


def _frame(n: int = 600, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 95, n).astype(float)
    colour = rng.choice(np.array(["red", "green", "blue"], dtype=object), n)
    colour[rng.random(n) < 0.1] = None  # missing categories, learned as their own value
    bmi = rng.normal(27, 5, n)
    bmi[rng.random(n) < 0.1] = np.nan
    logit = 0.05 * (age - 60) + (colour == "red") * 1.0 + 0.1 * np.nan_to_num(bmi - 27)
    label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    return pd.DataFrame(
        {
            "event_timestamp": [start + timedelta(days=int(d)) for d in rng.integers(0, 365, n)],
            "age": pd.array(age.astype(int), dtype="Int64"),
            "colour": colour,
            "bmi": bmi,
            "label": label,
            "target": 90 + 0.5 * age + rng.normal(0, 5, n),
        }
    )


def _trained(
    frame: pd.DataFrame, label: str, framework: str, model_type: str = "classification"
) -> tuple[TrainResult, Scorer]:
    """A model trained on ``frame``'s age, colour and bmi, and the API's scorer of it."""
    result = train_estimator(
        frame,
        ["age", "colour", "bmi"],
        label,
        "event_timestamp",
        framework=framework,  # type: ignore[arg-type]
        model_type=model_type,  # type: ignore[arg-type]
        hyperparameters=Hyperparameters(n_estimators=40),
    )
    loaded = LoadedModel(
        info=ModelVersionInfo("m", 1, "run"),
        model=result.model,
        features=result.features,
        categorical=result.categorical,
        feature_service="",
        model_type=model_type,
    )
    return result, Scorer(loaded)


@pytest.mark.parametrize("framework", ["sklearn", "xgboost", "lightgbm"])
@pytest.mark.parametrize("model_type", ["classification", "regression"])
def test_scorer_equals_pipeline(framework: str, model_type: str) -> None:
    frame = _frame()
    label = "label" if model_type == "classification" else "target"
    result, scorer = _trained(frame, label, framework, model_type)
    assert scorer.fast and result.categorical == ["colour"]
    probe = frame.drop(columns=[label]).copy()
    probe.loc[probe.index[:5], "colour"] = "purple"  # unseen category
    x = to_model_frame(probe, result.features, result.categorical)
    if model_type == "classification":
        expected = result.model.predict_proba(x)[:, 1]
        metric_keys = {"accuracy", "precision", "recall", "f1", "roc_auc"}
    else:
        expected = result.model.predict(x)
        metric_keys = {"mse", "mae", "r2"}
    assert set(result.metrics) == metric_keys
    rows = probe.to_dict("records")
    by_rows = scorer.score_rows(rows)
    by_table = scorer.score_table(pa.Table.from_pandas(probe, preserve_index=False))
    got = by_rows.probability if model_type == "classification" else by_rows.prediction
    got_table = by_table.probability if model_type == "classification" else by_table.prediction
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got_table, expected, rtol=1e-12, atol=1e-12)
    # Absent keys are missing values, as a null column would be.
    partial = scorer.score_rows([{"age": 70}])
    nulls = scorer.score_rows([{"age": 70, "colour": None, "bmi": None}])
    np.testing.assert_array_equal(partial.prediction, nulls.prediction)


@pytest.mark.parametrize("framework", ["sklearn", "lightgbm"])
def test_a_big_batch_scored_on_every_core_equals_one_thread(
    framework: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches of PARALLEL_ROWS or more are scored on all cores; the numbers must not
    depend on it (and the thread limits in force before come back afterwards)."""
    from threadpoolctl import threadpool_info

    from potluck.ml import scoring

    frame = _frame(3000)
    _, scorer = _trained(frame, "label", framework)
    scoring.limit_native_threads()
    table = pa.Table.from_pandas(frame.drop(columns=["label"]), preserve_index=False)
    monkeypatch.setattr(scoring, "PARALLEL_ROWS", 10**9)
    one_thread = scorer.score_table(table)
    monkeypatch.setattr(scoring, "PARALLEL_ROWS", 1000)
    before = [(pool["filepath"], pool["num_threads"]) for pool in threadpool_info()]
    every_core = scorer.score_table(table)
    assert one_thread.probability is not None and every_core.probability is not None
    np.testing.assert_array_equal(every_core.probability, one_thread.probability)
    np.testing.assert_array_equal(every_core.prediction, one_thread.prediction)
    assert [(pool["filepath"], pool["num_threads"]) for pool in threadpool_info()] == before


def test_label_and_empty_feature_set_are_refused() -> None:
    from potluck.errors import ModelError

    frame = _frame(100)
    with pytest.raises(ModelError, match="cannot be a feature"):
        train_estimator(frame, ["age", "label"], "label", "event_timestamp")
    with pytest.raises(ModelError, match="binary"):
        train_estimator(frame.assign(label=frame["age"]), ["bmi"], "label", "event_timestamp")
