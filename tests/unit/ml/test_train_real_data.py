"""Training that survives real data: folded high-cardinality categoricals served as trained,
and every predictable failure a named ModelError."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from potluck.errors import ModelError
from potluck.ml.categories import MAX_CATEGORIES, OTHER
from potluck.ml.registry import LoadedModel, ModelVersionInfo
from potluck.ml.scoring import Scorer
from potluck.ml.train import train_estimator

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def world(rows: int = 1200, cities: int = 300, seed: int = 0) -> pd.DataFrame:
    """A label driven by ``x`` and by whether the city is one of the big ones; most rows
    live in 20 big cities, the rest spread over hundreds of small ones."""
    rng = np.random.default_rng(seed)
    big = rng.random(rows) < 0.8
    city = np.where(big, rng.integers(0, 20, rows), rng.integers(20, cities, rows)).astype(str)
    x = rng.normal(size=rows)
    logit = 1.5 * x + np.where(big, 1.0, -1.0)
    return pd.DataFrame(
        {
            "id": np.arange(rows),
            "event_timestamp": [T0 + timedelta(hours=i) for i in range(rows)],
            "city": np.char.add("c", city),
            "x": x,
            "y": (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int),
        }
    )


def loaded(result: object) -> LoadedModel:
    info = ModelVersionInfo(name="m", version=1, run_id="r")
    return LoadedModel(
        info=info,
        model=result.model,  # type: ignore[attr-defined]
        features=result.features,  # type: ignore[attr-defined]
        categorical=result.categorical,  # type: ignore[attr-defined]
        feature_service="",
    )


def test_high_cardinality_categorical_is_folded_and_served_identically() -> None:
    frame = world()
    result = train_estimator(frame, ["city", "x"], "y", "event_timestamp")
    distinct = frame["city"].nunique()
    assert result.params["folded_categoricals"] == f"city:{MAX_CATEGORIES - 1}/{distinct}"
    assert result.metrics["roc_auc"] > 0.7
    categories = result.model.named_steps["encode"].named_transformers_["categorical"]
    assert OTHER in categories.categories_[0].tolist()

    scorer = Scorer(loaded(result))
    assert scorer.fast
    rows = [
        {"city": "c3", "x": 0.2},  # a big city, kept
        {"city": "c299", "x": 0.2},  # a small one, folded in training
        {"city": "nowhere", "x": 0.2},  # never seen: folded the same way
        {"city": None, "x": 0.2},  # missing stays missing
        {"x": -1.0},
    ]
    fast = scorer.score_rows(rows).probability
    slow = scorer._score_frame(pd.DataFrame(rows)).probability
    assert fast is not None and slow is not None
    np.testing.assert_allclose(fast, slow)
    assert fast[1] == pytest.approx(fast[2])  # rare and unseen both score as OTHER
    assert fast[0] != pytest.approx(fast[2])
    import pyarrow as pa

    table = scorer.score_table(pa.Table.from_pylist(rows)).probability
    assert table is not None
    np.testing.assert_allclose(table, fast)


def test_identifier_like_categorical_is_a_named_error() -> None:
    frame = world()
    frame["code"] = [f"id{i}" for i in range(len(frame))]
    with pytest.raises(ModelError, match="categorical feature 'code' has 900 distinct values"):
        train_estimator(frame, ["code", "x"], "y", "event_timestamp")


def test_single_class_split_names_the_counts_and_the_tied_times() -> None:
    frame = world(rows=200)
    frame["event_timestamp"] = T0  # every row stamped alike, e.g. load --time
    frame["y"] = [1] * 30 + [0] * 170  # all positives first in the file
    with pytest.raises(ModelError) as exc:
        train_estimator(frame, ["x"], "y", "event_timestamp", split="time")
    assert str(exc.value) == (
        "the time split leaves a single class on one side (train: 0: 120, 1: 30; test: 0: 50); "
        "200 of 200 rows share their timestamp, so the time split follows their order in the "
        "file; use more rows or --split stratified"
    )
    ok = train_estimator(frame, ["x"], "y", "event_timestamp", split="stratified", seed=1)
    assert ok.params["tied_timestamps"] == 200


def test_all_null_features_and_too_few_rows_are_named() -> None:
    frame = world(rows=200)
    frame["empty"] = np.nan
    with pytest.raises(ModelError, match="every feature is null in every row: empty"):
        train_estimator(frame, ["empty"], "y", "event_timestamp")
    dropped = train_estimator(frame, ["empty", "x"], "y", "event_timestamp")
    assert dropped.params["dropped_all_null"] == "empty"
    with pytest.raises(ModelError, match=r"too few labelled rows to train and test \(6 train"):
        train_estimator(frame.head(8), ["x"], "y", "event_timestamp", split="random")


def test_missing_framework_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "lightgbm" else real(name, *a)
    )
    with pytest.raises(ModelError, match="framework 'lightgbm' is not installed"):
        train_estimator(world(rows=100), ["x"], "y", "event_timestamp", framework="lightgbm")
