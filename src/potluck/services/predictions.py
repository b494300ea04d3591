"""Online and batch prediction with a registered model.

Online: features of each entity id come from the online store through
:func:`potluck.online.reads.online_features` (on-demand features computed at
request time, TTL applied, PII dropped), or the caller passes raw feature
values; the model is applied by :class:`potluck.ml.scoring.Scorer`. An entity
the online store has never seen gets ``status: unknown_entity``.

Batch: an entity frame (inline rows, a Parquet/CSV file in the batch folder,
or a source's key and time columns) is joined point-in-time with the model's
features from the offline store and scored; the answer is inline when small,
else a Parquet file in the batch folder.
"""

from __future__ import annotations

import gc
import math
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from potluck.deployment import default_model_name
from potluck.errors import EntityFrameError, InvalidInputError, ModelError, RequestError
from potluck.schemas.predictions import (
    INLINE_MAX_ROWS,
    BatchPredictionCreate,
    BatchPredictionPublic,
    OnlinePredictionCreate,
    OnlinePredictionPublic,
    PredictionRowPublic,
)
from potluck.services.files import relative_to_root, safe_path, write_output
from potluck.services.raw_rows import check_rows

if TYPE_CHECKING:
    from potluck.deployment import EntitySpec
    from potluck.features.repo import FeatureRepo
    from potluck.ml.scoring import Scorer
    from potluck.settings import Settings

__all__ = ["ModelCache", "predict_batch", "predict_online"]

TIME = "event_timestamp"
AUTO_INLINE_ROWS = 1000
MAX_BATCH_ROWS = 20_000_000
MIN_YEAR, MAX_YEAR = 1900, 2200  # event times outside: a typo or an attack (TTL arithmetic)
ALIAS_TTL_S = 5.0  # how long "which version is production" is trusted without asking MLflow


class ModelCache:
    """Loaded scorers by (name, version) -- immutable, kept -- and alias resolutions
    (re-asked after ``ALIAS_TTL_S``, so a promotion by another worker shows up)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._scorers: dict[tuple[str, int], Scorer] = {}
        self._versions: dict[tuple[str, str | None], tuple[int, float]] = {}
        self._lock = threading.Lock()

    def version(self, name: str, version: int | None, alias: str | None) -> int:
        from potluck.ml.registry import resolve_version

        if version is not None:
            return version
        alias = alias or self.settings.serving_alias  # never "the latest": promotion decides
        cached = self._fresh_alias(name, alias)
        if cached is not None:
            return cached
        resolved = resolve_version(self.settings, name, None, alias)
        self._versions[(name, alias)] = (resolved, time.monotonic())
        return resolved

    def _fresh_alias(self, name: str, alias: str) -> int | None:
        """The version ``alias`` resolved to less than ``ALIAS_TTL_S`` ago, if any."""
        cached = self._versions.get((name, alias))
        if cached is not None and time.monotonic() - cached[1] < ALIAS_TTL_S:
            return cached[0]
        return None

    def get(self, name: str | None, version: int | None = None, alias: str | None = None) -> Scorer:
        from potluck.ml.registry import load_model
        from potluck.ml.scoring import Scorer, limit_native_threads

        name = name or default_model_name(self.settings)
        number = self.version(name, version, alias)
        scorer = self._scorers.get((name, number))
        if scorer is None:
            with self._lock:
                scorer = self._scorers.get((name, number))
                if scorer is None:
                    scorer = Scorer(load_model(self.settings, name, number))
                    limit_native_threads()  # the model's libraries are loaded now
                    gc.freeze()  # the model lives as long as the process: see api.main
                    self._scorers[(name, number)] = scorer
        return scorer

    def warm(self, name: str | None, version: int | None, alias: str | None) -> bool:
        """True when :meth:`get` would answer from memory: the version (or a fresh alias
        resolution) and its scorer are cached, so no registry call or model load."""
        name = name or default_model_name(self.settings)
        if version is None:
            version = self._fresh_alias(name, alias or self.settings.serving_alias)
        return version is not None and (name, version) in self._scorers

    def forget_aliases(self, name: str) -> None:
        for key in [k for k in self._versions if k[0] == name]:
            self._versions.pop(key, None)


def _hidden(repo: FeatureRepo, scorer: Scorer) -> frozenset[str]:
    """Names never returned as feature values: the contract's PII, label and label-derived
    columns (and PII-tagged fields), whatever a model was trained on."""
    from potluck.deployment import active_deployment

    return active_deployment(repo.settings).forbidden_features | _tagged_pii(repo, scorer)


def _tagged_pii(repo: FeatureRepo, scorer: Scorer) -> frozenset[str]:
    from potluck.online.reads import resolved_features

    try:
        return resolved_features(repo, _features_argument(scorer)).pii  # type: ignore[no-any-return]
    except Exception:  # the features are gone from the registry: the contract still holds
        return frozenset()


def _json_value(value: Any) -> Any:
    """Online values as JSON: NaN -> null, numpy scalars -> Python."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _features_argument(scorer: Scorer) -> str | list[str]:
    loaded = scorer.loaded
    if loaded.feature_service:
        return loaded.feature_service
    if loaded.feature_refs:
        return list(loaded.feature_refs)
    raise ModelError(
        f"model '{loaded.info.name}' v{loaded.info.version} records no feature service or refs"
    )


def _entity_keys(
    repo: FeatureRepo, features: str | list[str], ids: list[Any]
) -> dict[str, list[Any]]:
    """Request ids as the join-key columns of the model's features, typed by the entity."""
    from potluck.deployment import active_deployment
    from potluck.online.reads import entity_columns, resolved_features

    keys = resolved_features(repo, features).join_keys
    deployment = active_deployment(repo.settings)
    for entity in deployment.entities:
        if set(entity.key_names) == set(keys):
            return entity_columns(entity, ids)
    raise ModelError(
        f"the model's features are keyed by {', '.join(sorted(keys))}, which no entity of "
        f"deployment '{deployment.name}' declares"
    )


def _rows(scorer: Scorer, scored: Any, index: int) -> tuple[float | None, float | None]:
    prediction = float(scored.prediction[index])
    probability = float(scored.probability[index]) if scored.probability is not None else None
    return prediction, probability


def predict_online(
    repo: FeatureRepo, cache: ModelCache, spec: OnlinePredictionCreate
) -> OnlinePredictionPublic:
    from potluck.online.reads import online_features

    scorer = cache.get(spec.model, spec.version, spec.alias)
    features = scorer.features
    status: list[str] = []
    missing: list[list[str]] = []
    expired: list[list[str]] = []
    if spec.entity_ids is not None:
        argument = _features_argument(scorer)
        keys = _entity_keys(repo, argument, spec.entity_ids)
        rows = online_features(repo, argument, keys)
        found = [bool(r["_found"]) for r in rows]
        ids: list[str | int | None] = list(spec.entity_ids)
        status = [r["_status"] for r in rows]
        missing = [r["_missing"] for r in rows]
        expired = [r["_expired"] for r in rows]
    else:
        assert spec.rows is not None
        check_rows(scorer, spec.rows)  # types, finite numbers, known categories: 422 listing all
        rows, found, ids = list(spec.rows), [True] * len(spec.rows), [None] * len(spec.rows)
        missing = [[f for f in features if row.get(f) is None] for row in rows]
        status = ["partial" if m else "ok" for m in missing]
        expired = [[] for _ in rows]
    scored = scorer.score_rows(rows)
    hidden = _hidden(repo, scorer)
    out = []
    for i, row in enumerate(rows):
        if not found[i]:
            out.append(PredictionRowPublic(entity_id=ids[i], status="unknown_entity"))
            continue
        prediction, probability = _rows(scorer, scored, i)
        values = (
            {f: _json_value(row.get(f)) for f in features if f not in hidden}
            if spec.include_features
            else None
        )
        out.append(
            PredictionRowPublic(
                entity_id=ids[i],
                status=status[i],  # type: ignore[arg-type]
                missing=missing[i],
                expired=expired[i],
                prediction=prediction,
                probability=probability,
                features=values,
            )
        )
    info = scorer.loaded.info
    return OnlinePredictionPublic(
        model=info.name,
        version=info.version,
        alias=_alias(repo.settings, spec.version, spec.alias),
        model_type=scorer.loaded.model_type,
        predictions=out,
    )


def _alias(settings: Settings, version: int | None, alias: str | None) -> str | None:
    """The alias that chose the version answering (None: the caller named the version)."""
    return None if version is not None else alias or settings.serving_alias


# --------------------------------------------------------------------------- batch
def _read_input(settings: Settings, relative: str) -> pa.Table:
    import pyarrow.csv as pacsv

    path = safe_path(settings, relative, suffixes=(".parquet", ".csv"), field="input_path")
    if not path.is_file():
        raise RequestError(f"input_path '{relative}' does not exist in the batch folder")
    try:
        if path.suffix.lower() == ".csv":
            return pacsv.read_csv(path)
        return pq.read_table(path)
    except (pa.ArrowInvalid, OSError):
        # The library's message names the server path: say what is wrong, not where.
        kind = "CSV" if path.suffix.lower() == ".csv" else "Parquet"
        raise RequestError(f"input_path '{relative}' is not a readable {kind} file") from None


def _model_entity(repo: FeatureRepo, scorer: Scorer) -> EntitySpec:
    from potluck.deployment import active_deployment

    keys = repo.resolve(_features_argument(scorer)).join_keys
    deployment = active_deployment(repo.settings)
    for entity in deployment.entities:
        if set(entity.key_names) == set(keys):
            return entity
    raise ModelError(
        f"the model's features are keyed by {', '.join(sorted(keys))}, which no entity of "
        f"deployment '{deployment.name}' declares"
    )


def _inline_frame(entity: EntitySpec, rows: list[dict[str, Any]]) -> pa.Table:
    from datetime import UTC, datetime

    wanted = [*entity.key_names, TIME]
    problems = []
    for i, row in enumerate(rows[:INLINE_MAX_ROWS]):
        if set(row) != set(wanted):
            problems.append(f"entities[{i}]: give exactly {', '.join(wanted)}")
        elif not isinstance(row[TIME], datetime):
            problems.append(f"entities[{i}].{TIME}: not an ISO-8601 time")
        if len(problems) >= 20:
            break
    if problems:
        raise InvalidInputError("entities", problems)
    columns: dict[str, Any] = {}
    for key, kind in entity.join_keys.items():
        try:
            columns[key] = pa.array([row[key] for row in rows], kind)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            raise InvalidInputError("entities", [f"'{key}' must hold {kind} values"]) from None
    stamps = [r[TIME] if r[TIME].tzinfo else r[TIME].replace(tzinfo=UTC) for r in rows]
    columns[TIME] = pa.array(stamps, pa.timestamp("us", tz="UTC"))
    return pa.table(columns)


def _entity_frame(
    settings: Settings, repo: FeatureRepo, spec: BatchPredictionCreate, entity: EntitySpec
) -> pa.Table:
    from potluck.deployment import active_deployment
    from potluck.services.models import read_key_frame

    if spec.entities is not None:
        return _inline_frame(entity, [r.model_dump() for r in spec.entities])
    if spec.input_path is not None:
        return _read_input(settings, spec.input_path)
    assert spec.source is not None
    src = spec.source
    deployment = active_deployment(settings)
    declared = deployment.sources.get(src.source)
    if declared is None:
        known = ", ".join(deployment.sources)
        raise InvalidInputError("source", [f"unknown source '{src.source}' (known: {known})"])
    if declared.entity != entity.name:
        raise InvalidInputError(
            "source",
            [f"source '{src.source}' holds {declared.entity} rows; the model scores {entity.name}"],
        )
    # The key and time columns are the contract's, whatever else the source holds.
    return read_key_frame(
        repo,
        source=src.source,
        table=src.source,
        entity_keys=entity.key_names,
        timestamp_field=declared.timestamp_field,
        start=src.start,
        end=src.end,
    )


def _check_frame(frame: pa.Table, entity: EntitySpec, forbidden: frozenset[str]) -> None:
    import pyarrow.compute as pc

    if frame.num_rows == 0:
        raise EntityFrameError("the entity frame has no rows")
    if frame.num_rows > MAX_BATCH_ROWS:
        raise EntityFrameError(
            f"the entity frame has {frame.num_rows:,} rows (max {MAX_BATCH_ROWS:,})"
        )
    missing = [c for c in (*entity.key_names, TIME) if c not in frame.column_names]
    if missing:
        raise EntityFrameError(f"the entity frame lacks column(s): {', '.join(missing)}")
    for key, kind in entity.join_keys.items():
        ids = frame[key]
        same_family = (
            pa.types.is_integer(ids.type)
            if pa.types.is_integer(kind)
            else pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type)
        )
        if not same_family:
            raise EntityFrameError(f"entity frame column '{key}' must be {kind}, got {ids.type}")
        if ids.null_count:
            raise EntityFrameError(f"entity frame column '{key}' has {ids.null_count} null(s)")
    keys = {*entity.key_names, TIME}
    leaking = sorted(c for c in frame.column_names if c in forbidden and c not in keys)
    if leaking:
        raise EntityFrameError(
            "the entity frame holds column(s) the data contract marks PII or label, which a "
            f"batch never carries: {', '.join(leaking)}"
        )
    times = frame[TIME]
    if not pa.types.is_timestamp(times.type):
        raise EntityFrameError(
            f"entity frame column '{TIME}' must be a timestamp, got {times.type}"
        )
    if times.null_count:
        raise EntityFrameError(f"entity frame column '{TIME}' has {times.null_count} null(s)")
    bounds = pc.min_max(times.cast(pa.timestamp("us", tz="UTC"))).as_py()
    low, high = bounds["min"], bounds["max"]
    if low.year < MIN_YEAR or high.year >= MAX_YEAR:
        raise EntityFrameError(
            f"entity frame column '{TIME}' must lie in the years {MIN_YEAR}..{MAX_YEAR - 1} "
            f"(got {low.date()} .. {high.date()})"
        )


def predict_batch(
    settings: Settings, repo: FeatureRepo, cache: ModelCache, spec: BatchPredictionCreate
) -> BatchPredictionPublic:
    from potluck.features.retrieval import historical_features
    from potluck.offline.job import arrow_to_pandas

    started = time.perf_counter()
    scorer = cache.get(spec.model, spec.version, spec.alias)
    if spec.output_path:  # refused early: traversal, symlink escape, suffix
        safe_path(settings, spec.output_path, suffixes=(".parquet",), field="output_path")
    entity = _model_entity(repo, scorer)
    frame = _entity_frame(settings, repo, spec, entity)
    hidden = _hidden(repo, scorer)
    _check_frame(frame, entity, hidden)
    output = spec.output
    if output == "auto":
        output = "parquet" if spec.output_path or frame.num_rows > AUTO_INLINE_ROWS else "inline"
    if output == "inline" and frame.num_rows > INLINE_MAX_ROWS:
        raise RequestError(
            f"{frame.num_rows:,} rows are too many to answer inline (max {INLINE_MAX_ROWS:,}); "
            "ask for output 'parquet'"
        )
    entity_columns = set(frame.column_names)
    features = historical_features(repo, arrow_to_pandas(frame), _features_argument(scorer))
    scored = scorer.score_table(features)
    result = features.select(frame.column_names)
    if spec.include_features:
        for name in scorer.features:
            if name in features.column_names and name not in entity_columns | hidden:
                result = result.append_column(name, features[name])
    result = result.append_column(spec.prediction_column, pa.array(scored.prediction, pa.float64()))
    if scored.probability is not None:
        result = result.append_column("probability", pa.array(scored.probability, pa.float64()))
    info = scorer.loaded.info
    common: dict[str, Any] = {
        "model": info.name,
        "version": info.version,
        "alias": _alias(settings, spec.version, spec.alias),
        "model_type": scorer.loaded.model_type,
        "rows": result.num_rows,
    }
    if output == "iceberg":
        from potluck.services.prediction_sink import write_scores

        written = write_scores(
            settings,
            result,
            model=info.name,
            version=info.version,
            table=spec.output_table,
            namespace=spec.output_namespace,
            mode=spec.output_mode,
        )
        elapsed = round((time.perf_counter() - started) * 1000, 3)
        return BatchPredictionPublic(
            **common,
            output="iceberg",
            output_table=f"{written['namespace']}.{written['table']}",
            snapshot_id=written["snapshot_id"],
            elapsed_ms=elapsed,
        )
    if output == "inline":
        rows = [{k: _json_value(v) for k, v in row.items()} for row in result.to_pylist()]
        elapsed = round((time.perf_counter() - started) * 1000, 3)
        return BatchPredictionPublic(
            **common, output="inline", predictions=rows, elapsed_ms=elapsed
        )
    # A server-chosen name unless the caller (a write key: see the route) chose one; the
    # write is symlink-safe and never replaces a file (see services.files).
    name = (
        spec.output_path
        or f"predictions/{info.name}-v{info.version}-{uuid.uuid4().hex[:12]}.parquet"
    )
    out_path = write_output(settings, name, result)
    elapsed = round((time.perf_counter() - started) * 1000, 3)
    return BatchPredictionPublic(
        **common,
        output="parquet",
        output_path=relative_to_root(settings, out_path),
        elapsed_ms=elapsed,
    )
