"""``potluck audit``: a leakage audit of a training set and the service that built it.

* label columns: the label or a label-derived column in the feature service (or in
  the training set's feature columns);
* created after the entity time: the row a view joined at an entity row was
  *recorded* (``created_timestamp``) after that entity time - unknowable then;
* future-dated events: source rows or entity rows dated after now;
* TTL gaps: the null rate of each feature and why (no row before the entity time,
  latest row older than the view's TTL, or null in the source);
* single-feature AUC above a threshold: a feature that alone predicts the label
  suspiciously well usually carries it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from potluck.errors import ConfigurationError
from potluck.quality import _plots
from potluck.quality._data import feature_views, read_view_rows, view_source
from potluck.quality._report import Report, Status

if TYPE_CHECKING:
    import pandas as pd
    from feast import FeatureView

    from potluck.features.repo import FeatureRepo

__all__ = ["audit", "label_columns", "single_feature_auc"]
_TIME_COLUMN = "event_timestamp"


def label_columns(names: Iterable[str], label: str, derived: Iterable[str]) -> list[str]:
    """The label and label-derived names among ``names`` (full ``view__x`` names too)."""
    bad = {label, *derived}
    return [n for n in names if n in bad or n.split("__", 1)[-1] in bad]


def _auc_input(values: Any, labels: np.ndarray) -> np.ndarray | None:
    """A numeric score per row: numbers as they are (nulls lowest), timestamps as epochs,
    categories as their out-of-fold label rate (2 folds, so a category is never scored
    with its own rows' labels)."""
    import pandas as pd

    series = pd.Series(values)
    if pd.api.types.is_datetime64_any_dtype(series):
        series = series.astype("int64").where(series.notna())
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        numbers = series.astype("float64").to_numpy()
        finite = numbers[np.isfinite(numbers)]
        if finite.size == 0:
            return None
        return np.where(np.isfinite(numbers), numbers, finite.min() - 1.0)
    text = series.astype("object").where(series.notna(), "<null>").astype(str)
    fold = np.arange(len(text)) % 2
    score = np.full(len(text), labels.mean(), dtype="float64")
    for k in (0, 1):
        rates = pd.Series(labels[fold != k]).groupby(text[fold != k].to_numpy()).mean()
        score[fold == k] = text[fold == k].map(rates).fillna(labels.mean()).to_numpy()
    return score


def single_feature_auc(frame: pd.DataFrame, features: Sequence[str], label: str) -> dict:
    """feature -> max(AUC, 1 - AUC) of the feature alone against the label (None if n/a)."""
    from sklearn.metrics import roc_auc_score

    labels = frame[label].astype("float64").to_numpy()
    keep = np.isfinite(labels)
    labels = labels[keep].astype(int)
    out: dict[str, float | None] = {}
    for name in features:
        score = _auc_input(frame[name].to_numpy()[keep], labels) if len(set(labels)) > 1 else None
        if score is None or np.unique(score).size < 2:
            out[name] = None
            continue
        auc = float(roc_auc_score(labels, score))
        out[name] = round(max(auc, 1.0 - auc), 4)
    return out


def _join_rows(entities: pa.Table, source: pa.Table, key: str, ts: str, created: str | None) -> Any:
    """Per entity row: the event (and created) time of the latest source row at or
    before the entity time, ignoring TTL (so the TTL's effect can be measured)."""
    import duckdb

    created_sql = f's."{created}"' if created else "NULL::TIMESTAMPTZ"
    con = duckdb.connect()
    con.register("entities", entities)
    con.register("src", source)
    return con.execute(
        f"""
        SELECT e.__row AS row, s."{ts}" AS matched, {created_sql} AS created
        FROM entities e ASOF LEFT JOIN src s
          ON e."{key}" = s."{key}" AND e.{_TIME_COLUMN} >= s."{ts}"
        ORDER BY e.__row
        """
    ).fetch_df()


def _check_view(
    repo: FeatureRepo,
    report: Report,
    view: FeatureView,
    names: list[str],
    frame: pd.DataFrame,
    now: datetime,
) -> dict[str, dict[str, int]]:
    """Created-after and future-dated checks of one view; returns null causes per feature."""
    import pandas as pd

    src = view_source(view)
    key = src.join_keys[0]
    ids = sorted(frame[key].dropna().astype(str).unique())
    columns = [key, src.timestamp_field] + ([src.created_column] if src.created_column else [])
    rows = read_view_rows(repo, view, columns, keys=ids)
    future = int(pc.sum(pc.greater(rows.column(src.timestamp_field), now)).as_py() or 0)
    report.add(
        "future_dated_events",
        view.name,
        "fail" if future else "pass",
        f"{future} source rows dated after {now.date()}" if future else "no future-dated rows",
        rows=future,
    )
    entities = pa.table(
        {
            "__row": np.arange(len(frame)),
            key: frame[key].astype(str).to_numpy(),
            _TIME_COLUMN: pd.to_datetime(frame[_TIME_COLUMN], utc=True).to_numpy(),
        }
    )
    joined = _join_rows(entities, rows, key, src.timestamp_field, src.created_column)
    entity_ts = pd.to_datetime(frame[_TIME_COLUMN], utc=True).reset_index(drop=True)
    matched = pd.to_datetime(joined["matched"], utc=True)
    if src.created_column:
        created = pd.to_datetime(joined["created"], utc=True)
        late = created.notna() & (created > entity_ts)
        count = int(late.sum())
        examples = [
            f"{frame[key].iloc[i]} at {entity_ts.iloc[i]} joined a row created {created.iloc[i]}"
            for i in np.flatnonzero(late.to_numpy())[:3]
        ]
        report.add(
            "created_after_entity_time",
            view.name,
            "fail" if count else "pass",
            "; ".join(examples) if count else "every joined row was created by the entity time",
            rows=count,
        )
    else:
        report.add(
            "created_after_entity_time",
            view.name,
            "info",
            "not checkable: the view's source has no created_timestamp column",
        )
    ttl = view.ttl if view.ttl and view.ttl.total_seconds() > 0 else None
    no_row = matched.isna()
    expired = ~no_row & ((entity_ts - matched) > ttl) if ttl else no_row & False
    causes: dict[str, dict[str, int]] = {}
    for name in names:
        null = frame[name].isna().reset_index(drop=True)
        causes[name] = {
            "no_row_before_entity_time": int((null & no_row).sum()),
            "older_than_ttl": int((null & expired).sum()),
            "null_in_source": int((null & ~no_row & ~expired).sum()),
        }
    return causes


def _ttl_findings(
    report: Report, frame: pd.DataFrame, causes: dict[str, dict[str, int]], warn: float, fail: float
) -> None:
    rows = max(len(frame), 1)
    for name, parts in causes.items():
        rate = float(frame[name].isna().mean()) if len(frame) else 0.0
        status: Status = "fail" if rate > fail else ("warn" if rate > warn else "pass")
        why = ", ".join(f"{k.replace('_', ' ')} {v / rows:.1%}" for k, v in parts.items() if v)
        report.add("ttl_gaps", name, status, why or "no nulls", null_rate=round(rate, 4), **parts)


def audit(
    repo: FeatureRepo,
    training_set: pa.Table,
    *,
    service: str | None = None,
    label: str | None = None,
    label_derived: Iterable[str] | None = None,
    max_auc: float = 0.9,
    warn_null_rate: float = 0.1,
    max_null_rate: float = 0.8,
    now: datetime | None = None,
) -> Report:
    """Audit ``training_set`` (entity columns, the label, features) built from ``service``.

    The label and label-derived columns default to the active deployment's contract."""
    from potluck.deployment import active_deployment
    from potluck.offline.job import arrow_to_pandas

    now = now or datetime.now(UTC)
    deployment = active_deployment(repo.settings)
    if label is None:
        if deployment.label is None:
            raise ConfigurationError(f"deployment '{deployment.name}' declares no label")
        label = deployment.label.column
    derived = frozenset(label_derived if label_derived is not None else deployment.label_columns)
    metadata = training_set.schema.metadata or {}
    service = service or metadata.get(b"potluck.feature_service", b"").decode() or None
    report = Report(
        "audit",
        f"potluck audit - training set{f' of {service}' if service else ''}",
        columns=["auc", "null_rate", "rows"],
    )
    project = repo.store.project
    services = (
        [service]
        if service
        else [s.name for s in repo.store.registry.list_feature_services(project)]
    )
    for name in services:
        leaks = label_columns(repo.resolve(name).names, label, derived)
        report.add(
            "label_in_service",
            name,
            "fail" if leaks else "pass",
            f"serves label/label-derived: {', '.join(leaks)}" if leaks else "no label columns",
        )
    frame = arrow_to_pandas(training_set)
    keys = {k for e in deployment.entities for k in e.key_names}
    entity_columns = {*keys, _TIME_COLUMN, label}
    features = [c for c in frame.columns if c not in entity_columns]
    leaked = label_columns(features, label, derived)
    report.add(
        "label_in_training_set",
        "columns",
        "fail" if leaked else "pass",
        f"feature columns carry the label: {', '.join(leaked)}" if leaked else "no label columns",
    )
    future_entities = int((frame[_TIME_COLUMN] > now).sum()) if len(frame) else 0
    report.add(
        "future_dated_events",
        "entity rows",
        "fail" if future_entities else "pass",
        f"{future_entities} entity rows dated after {now.date()}" if future_entities else "none",
        rows=future_entities,
    )
    by_view: dict[str, list[str]] = {}
    if service:
        for ref in repo.resolve(service).refs:
            view_name, _, feature = ref.partition(":")
            if feature in features:
                by_view.setdefault(view_name, []).append(feature)
    causes: dict[str, dict[str, int]] = {}
    for view in feature_views(repo):
        if view.name in by_view:
            causes.update(_check_view(repo, report, view, by_view[view.name], frame, now))
    for name in features:
        causes.setdefault(
            name, {"computed_on_demand_or_unattributed": int(frame[name].isna().sum())}
        )
    _ttl_findings(report, frame, causes, warn_null_rate, max_null_rate)
    aucs = single_feature_auc(frame, features, label) if label in frame.columns else {}
    for name, auc in aucs.items():
        report.add(
            "single_feature_auc",
            name,
            "fail" if auc is not None and auc > max_auc else ("info" if auc is None else "pass"),
            f"AUC {auc} > {max_auc}: suspiciously predictive" if auc and auc > max_auc else "",
            auc=auc,
        )
    _figures(report, frame, features, aucs, causes, max_auc)
    labels = frame[label] if label in frame.columns else None
    report.summary = {
        "service": service,
        "rows": len(frame),
        "features": len(features),
        "label": label,
        "label_rate": round(float(labels.mean()), 4) if labels is not None and len(frame) else None,
        "entity_time_range": (
            f"{frame[_TIME_COLUMN].min()} .. {frame[_TIME_COLUMN].max()}" if len(frame) else ""
        ),
        "max_auc": max_auc,
        "now": now.isoformat(),
    }
    return report


def _figures(
    report: Report,
    frame: pd.DataFrame,
    features: list[str],
    aucs: dict[str, float | None],
    causes: dict[str, dict[str, int]],
    max_auc: float,
) -> None:
    if aucs:
        names = [n for n in features if aucs.get(n) is not None]
        report.figures.append(
            _plots.bar_chart(
                "single-feature AUC (red: above the threshold)",
                names,
                [float(aucs[n] or 0.0) for n in names],
                threshold=max_auc,
                xlabel="max(AUC, 1 - AUC)",
            )
        )
    rows = max(len(frame), 1)
    parts = sorted({p for c in causes.values() for p in c})
    report.figures.append(
        _plots.bar_chart(
            "null rate per feature, by cause",
            features,
            [float(frame[n].isna().mean()) for n in features],
            xlabel="share of training rows",
            stacked={p: [causes.get(n, {}).get(p, 0) / rows for n in features] for p in parts},
        )
    )
