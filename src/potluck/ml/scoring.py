"""Apply a registered pipeline fast, with exactly the pipeline's arithmetic.

A scikit-learn ``Pipeline`` (``ColumnTransformer`` + ``OrdinalEncoder`` +
estimator) called on a one-row DataFrame spends ~1-2 ms in pandas and column
bookkeeping before the trees see a number. :class:`Scorer` does the encoder's
job itself -- a dict lookup per categorical value, ``float()`` per numeric
one -- builds the float64 matrix the estimator was fitted on and calls the
fitted estimator directly. The values are the pipeline's (tests compare them);
a pipeline of another shape falls back to calling it on a DataFrame.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from potluck.ml.categories import OTHER, fold, folded_features
from potluck.ml.registry import LoadedModel
from potluck.ml.train import to_model_frame

__all__ = ["PARALLEL_ROWS", "Scored", "Scorer", "limit_native_threads"]

PARALLEL_ROWS = 20_000  # a batch this big is scored on every core


@dataclass(frozen=True)
class Scored:
    """``prediction`` per row; ``probability`` of the positive class for classifiers."""

    prediction: np.ndarray
    probability: np.ndarray | None

    @property
    def scores(self) -> np.ndarray:
        """What a caller ranks or thresholds: the probability for classifiers, else the
        prediction."""
        return self.probability if self.probability is not None else self.prediction


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _to_float(value: object) -> float:
    # pd.to_numeric(errors="coerce") semantics: numbers and numeric strings, else NaN.
    if value is None or isinstance(value, bool | int | float):
        return math.nan if value is None else float(value)
    try:
        return float(str(value))
    except ValueError:
        return math.nan


def limit_native_threads() -> None:
    """One OpenMP/BLAS thread for the loaded libraries, for good (not a context: too slow).

    A prediction is a few hundred tree lookups; on 2 shared cores, waking OpenMP
    workers costs more than the work and, under load, stalls for hundreds of ms.
    threadpoolctl only reaches libraries already loaded: call again after loading
    a model."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)


def _booster_predict(estimator: Any, classify: bool) -> Any:
    """The native booster's predict, ``(matrix, threads) -> values``, skipping the
    sklearn wrapper's per-call parameter handling (~1 ms); None for other estimators."""
    booster = getattr(estimator, "booster_", None)  # LightGBM
    if booster is not None and (not classify or len(getattr(estimator, "classes_", [])) == 2):
        return lambda matrix, threads: booster.predict(matrix, num_threads=threads)
    get_booster = getattr(estimator, "get_booster", None)  # XGBoost
    if get_booster is not None and (not classify or len(getattr(estimator, "classes_", [])) == 2):
        xgb_booster = get_booster()
        # one thread always: its thread count is booster state, shared by concurrent calls
        xgb_booster.set_param({"nthread": 1})
        return lambda matrix, threads: xgb_booster.inplace_predict(matrix)
    return None


def _encoder_categories(pipeline: Any) -> dict[str, list[Any]]:
    """The categories the model's ordinal encoder learned, per feature ({} if none)."""
    try:
        encoder = pipeline.named_steps["encode"]
        ordinal = encoder.named_transformers_["categorical"]
        columns = list(encoder.transformers_[0][2])
        return {c: list(v.tolist()) for c, v in zip(columns, ordinal.categories_, strict=True)}
    except (AttributeError, KeyError, IndexError, TypeError, ValueError):
        return {}


class Scorer:
    """Scores rows (dicts) or frames (Arrow/pandas) with one loaded model version."""

    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded
        self.features = list(loaded.features)
        self.categorical = set(loaded.categorical)
        self.classify = loaded.model_type == "classification"
        self._maps: list[dict[Any, float] | None] | None = None
        self._estimator: Any = None
        self._categories: dict[str, list[Any]] = {}
        self._missing_code: dict[str, float] = {}
        # folded features (see potluck.ml.categories): value unknown to the encoder -> OTHER
        self._folded: dict[str, list[Any]] = folded_features(_encoder_categories(loaded.model))
        self._unknown_code: dict[str, float] = {}
        self._prepare_fast_path()

    def _prepare_fast_path(self) -> None:
        pipeline = self.loaded.model
        steps = getattr(pipeline, "named_steps", {})
        encoder, estimator = steps.get("encode"), steps.get("model")
        if encoder is None or estimator is None:
            return
        try:
            names = list(encoder.get_feature_names_out())
            ordinal = encoder.named_transformers_["categorical"]
            columns = list(encoder.transformers_[0][2])
        except (AttributeError, KeyError, IndexError, ValueError):
            return
        if names != self.features or columns != [f for f in self.features if f in self.categorical]:
            return
        maps: list[dict[Any, float] | None] = [None] * len(self.features)
        categories = getattr(ordinal, "categories_", [])
        for position, (name, cats) in enumerate(zip(columns, categories, strict=True)):
            values = cats.tolist()
            known = [c for c in values if not _missing(c)]
            maps[position] = {value: float(i) for i, value in enumerate(known)}
            self._categories[name] = known
            # The encoder learns ``None`` (what to_model_frame puts for NA) as a category of
            # its own; only a float NaN category maps to its missing value. Match it exactly.
            self._missing_code[name] = float(values.index(None)) if None in values else math.nan
            self._unknown_code[name] = float(known.index(OTHER)) if OTHER in known else math.nan
        self._maps = maps
        self._estimator = estimator
        self._booster_predict = _booster_predict(estimator, self.classify)

    def categories(self, name: str) -> list[Any] | None:
        """The categories the model learned for ``name`` (None: not known here)."""
        return self._categories.get(name)

    @property
    def fast(self) -> bool:
        return self._maps is not None

    # ------------------------------------------------------------------ matrices
    def matrix_from_rows(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """float64 matrix (rows x features) from one mapping per row; absent keys are missing."""
        assert self._maps is not None
        out = np.empty((len(rows), len(self.features)), dtype="float64")
        for j, (name, mapping) in enumerate(zip(self.features, self._maps, strict=True)):
            if mapping is None:
                for i, row in enumerate(rows):
                    out[i, j] = _to_float(row.get(name))
            else:
                missing, unknown = self._missing_code[name], self._unknown_code[name]
                for i, row in enumerate(rows):
                    value = row.get(name)
                    out[i, j] = missing if _missing(value) else mapping.get(value, unknown)
        return out

    def matrix_from_table(self, table: pa.Table) -> np.ndarray:
        """float64 matrix from an Arrow table holding (some of) the features as columns."""
        assert self._maps is not None
        out = np.full((table.num_rows, len(self.features)), np.nan, dtype="float64")
        for j, name in enumerate(self.features):
            if name not in table.column_names:
                continue
            column = table[name]
            if name in self._categories:
                codes = pd.Categorical(
                    column.to_pandas(), categories=self._categories[name]
                ).codes.astype("float64")
                codes[codes < 0] = self._unknown_code[name]  # unknown: NaN, or OTHER if folded
                nulls = column.is_null().to_numpy(zero_copy_only=False)
                codes[nulls] = self._missing_code[name]
                out[:, j] = codes
            elif pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
                out[:, j] = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
            else:
                values = pd.to_numeric(column.to_pandas(), errors="coerce")
                out[:, j] = values.astype("float64").to_numpy(na_value=np.nan)
        return out

    # ------------------------------------------------------------------ scoring
    def _score_matrix(self, matrix: np.ndarray, threads: int = 1) -> Scored:
        estimator = self._estimator
        if self._booster_predict is not None:
            values = np.asarray(self._booster_predict(matrix, threads), dtype="float64")
            if not self.classify:
                return Scored(prediction=values, probability=None)
            classes = np.asarray(estimator.classes_)
            return Scored(prediction=classes[(values >= 0.5).astype(int)], probability=values)
        if self.classify:
            proba = np.asarray(estimator.predict_proba(matrix), dtype="float64")[:, 1]
            classes = np.asarray(estimator.classes_)
            return Scored(prediction=classes[(proba >= 0.5).astype(int)], probability=proba)
        return Scored(
            prediction=np.asarray(estimator.predict(matrix), dtype="float64"), probability=None
        )

    def _score_frame(self, frame: pd.DataFrame) -> Scored:
        pipeline = self.loaded.model
        x = fold(to_model_frame(frame, self.features, list(self.categorical)), self._folded)
        if self.classify:
            proba = np.asarray(pipeline.predict_proba(x), dtype="float64")[:, 1]
            classes = np.asarray(pipeline.classes_)
            return Scored(prediction=classes[(proba >= 0.5).astype(int)], probability=proba)
        return Scored(prediction=np.asarray(pipeline.predict(x), dtype="float64"), probability=None)

    def score_rows(self, rows: Sequence[Mapping[str, Any]]) -> Scored:
        if not rows:
            empty = np.empty(0, dtype="float64")
            return Scored(prediction=empty, probability=empty if self.classify else None)
        if self.fast:
            return self._score_matrix(self.matrix_from_rows(rows))
        return self._score_frame(pd.DataFrame(list(rows)))

    def score_table(self, table: pa.Table) -> Scored:
        """Score a batch; a big one on every core (online scoring stays on one)."""
        from threadpoolctl import threadpool_limits

        threads = (os.cpu_count() or 1) if table.num_rows >= PARALLEL_ROWS else 1
        # a context only here: for a batch, entering it costs nothing next to the work
        with threadpool_limits(limits=threads):
            if self.fast:
                return self._score_matrix(self.matrix_from_table(table), threads)
            from potluck.offline.job import arrow_to_pandas

            return self._score_frame(arrow_to_pandas(table))
