"""``potluck drift``: has the feature distribution moved since the training set?

Per feature shared by the reference (a training set) and the current data:

* numeric (floats, and integers with more than 15 distinct values): PSI over the reference's deciles and the
  two-sample Kolmogorov-Smirnov statistic (``scipy.stats.ks_2samp``);
* categorical (strings, booleans, small integer codes): PSI over categories and a
  chi-square test of the 2 x k contingency table (``scipy.stats.chi2_contingency``)
  with Cramér's V as its effect size;
* both: the shift of the null rate.

A feature drifts when PSI >= ``psi_threshold`` (0.2: the industry's "significant
shift"), KS >= ``ks_threshold``, chi-square p < ``alpha`` with V >= ``v_threshold``,
or the null rate moves more than ``null_threshold``. p-values alone are not gates:
with a million rows every negligible difference is "significant".
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from potluck.errors import ConfigurationError
from potluck.quality import _plots
from potluck.quality._data import parse_duration, to_utc
from potluck.quality._report import Report

if TYPE_CHECKING:
    from potluck.features.repo import FeatureRepo

__all__ = [
    "categorical_drift",
    "current_from_window",
    "drift",
    "numeric_drift",
    "parse_window",
    "psi",
]

_EPS = 1e-4  # floor of a bin's share, so an empty bin does not make PSI infinite
_CONTINUOUS = 15
# Not features: the time column, and (via ``skip``) the entity keys and the label, which
# callers take from the deployment's contract.
_SKIP = frozenset({"event_timestamp"})


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of two share vectors over the same bins."""
    p = np.clip(np.asarray(expected, dtype="float64"), _EPS, None)
    q = np.clip(np.asarray(actual, dtype="float64"), _EPS, None)
    return float(np.sum((q - p) * np.log(q / p)))


def numeric_drift(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """PSI over the reference's quantile bins and the KS statistic and p-value."""
    from scipy.stats import ks_2samp

    ref = reference[np.isfinite(reference)]
    cur = current[np.isfinite(current)]
    if ref.size == 0 or cur.size == 0:
        return {"psi": None, "ks": None, "p_value": None}
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1]))
    shares = [
        np.bincount(np.searchsorted(edges, data, side="right"), minlength=edges.size + 1)
        / data.size
        for data in (ref, cur)
    ]
    ks = ks_2samp(ref, cur, method="asymp")
    return {
        "psi": round(psi(shares[0], shares[1]), 4),
        "ks": round(float(ks.statistic), 4),
        "p_value": float(ks.pvalue),
        "ref_mean": round(float(ref.mean()), 4),
        "cur_mean": round(float(cur.mean()), 4),
    }


def categorical_drift(reference: dict[Any, int], current: dict[Any, int]) -> dict[str, Any]:
    """PSI over categories, chi-square statistic, p-value and Cramér's V (counts in, by value)."""
    from scipy.stats import chi2_contingency

    categories = sorted(set(reference) | set(current), key=str)
    ref = np.array([reference.get(c, 0) for c in categories], dtype="float64")
    cur = np.array([current.get(c, 0) for c in categories], dtype="float64")
    if ref.sum() == 0 or cur.sum() == 0:
        return {"psi": None, "chi2": None, "p_value": None, "cramers_v": None}
    out: dict[str, Any] = {"psi": round(psi(ref / ref.sum(), cur / cur.sum()), 4)}
    seen = (ref + cur) > 0
    if seen.sum() < 2:
        return {**out, "chi2": 0.0, "p_value": 1.0, "cramers_v": 0.0}
    result = chi2_contingency(np.vstack([ref[seen], cur[seen]]))
    n = ref.sum() + cur.sum()
    out.update(
        chi2=round(float(result.statistic), 4),
        p_value=float(result.pvalue),
        cramers_v=round(float(np.sqrt(result.statistic / n)), 4),  # min(2, k) - 1 == 1
    )
    return out


def _kind(column: pa.ChunkedArray) -> str:
    """Floats are numeric; integers only with many distinct values (a 0/1 flag or a
    small count is a category). Distinct values are counted on the first 100k rows:
    hashing a million floats would cost more than the tests themselves."""
    t = column.type
    if pa.types.is_floating(t):
        return "numeric"
    if pa.types.is_integer(t):
        head = column.slice(0, 100_000)
        return "numeric" if pc.count_distinct(head).as_py() > _CONTINUOUS else "categorical"
    return "categorical"


def _numbers(column: pa.ChunkedArray) -> np.ndarray:
    return column.cast(pa.float64()).to_numpy(zero_copy_only=False)


def _counts(column: pa.ChunkedArray) -> dict[Any, int]:
    counts = pc.value_counts(column.drop_null())
    return dict(
        zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True)
    )


def _null_rate(column: pa.ChunkedArray) -> float:
    return column.null_count / len(column) if len(column) else 0.0


@dataclass(frozen=True)
class Thresholds:
    psi: float = 0.2
    ks: float = 0.1
    alpha: float = 0.01
    cramers_v: float = 0.1
    null_shift: float = 0.1


def _columns(reference: pa.Table, current: pa.Table, name: str) -> tuple[Any, Any]:
    ref, cur = reference.column(name), current.column(name)
    if pa.types.is_timestamp(ref.type):
        ref, cur = ref.cast(pa.int64()), cur.cast(pa.int64())
    return ref, cur


def _feature(ref: pa.ChunkedArray, cur: pa.ChunkedArray, limits: Thresholds) -> dict[str, Any]:
    """Kind, statistics, verdict and reasons of one feature."""
    kind = _kind(ref)
    null_shift = round(_null_rate(cur) - _null_rate(ref), 4)
    if kind == "numeric":
        stats = numeric_drift(_numbers(ref), _numbers(cur))
        moved = (stats["psi"] or 0) >= limits.psi or (stats["ks"] or 0) >= limits.ks
    else:
        stats = categorical_drift(_counts(ref), _counts(cur))
        moved = (stats["psi"] or 0) >= limits.psi or (
            stats["p_value"] is not None
            and stats["p_value"] < limits.alpha
            and (stats["cramers_v"] or 0) >= limits.cramers_v
        )
    reasons = [
        f"{k} {stats[k]} >= {t}"
        for k, t in (("psi", limits.psi), ("ks", limits.ks))
        if stats.get(k) is not None and stats[k] >= t
    ]
    if kind == "categorical" and moved and not reasons:
        reasons.append(f"chi-square p {stats['p_value']:.2g} with V {stats['cramers_v']}")
    if abs(null_shift) > limits.null_shift:
        moved = True
        reasons.append(f"null rate moved {null_shift:+.1%}")
    return {
        "kind": kind,
        "stats": stats,
        "moved": moved,
        "reasons": reasons,
        "null_shift": null_shift,
    }


def drift(
    reference: pa.Table,
    current: pa.Table,
    *,
    features: Sequence[str] | None = None,
    skip: Sequence[str] = (),
    psi_threshold: float = 0.2,
    ks_threshold: float = 0.1,
    alpha: float = 0.01,
    v_threshold: float = 0.1,
    null_threshold: float = 0.1,
    plots: bool = True,
) -> Report:
    """Compare every shared feature column of ``reference`` and ``current``."""
    from concurrent.futures import ThreadPoolExecutor

    shared = [c for c in reference.column_names if c in set(current.column_names)]
    skipped = _SKIP | set(skip)
    names = list(features) if features is not None else [c for c in shared if c not in skipped]
    missing = sorted(set(names) - set(shared))
    if missing:
        raise ConfigurationError(f"features missing from reference or current: {missing}")
    limits = Thresholds(psi_threshold, ks_threshold, alpha, v_threshold, null_threshold)
    report = Report(
        "drift",
        "potluck drift - reference vs current",
        columns=["kind", "psi", "ks", "chi2", "p_value", "cramers_v", "null_shift"],
    )
    # Features in threads: sorting (KS), quantiles and Arrow kernels release the GIL,
    # so this scales with cores. Plots stay sequential: pyplot is not thread-safe.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        results = list(
            pool.map(lambda n: _feature(*_columns(reference, current, n), limits), names)
        )
    for name, result in zip(names, results, strict=True):
        report.add(
            result["kind"],
            name,
            "fail" if result["moved"] else "pass",
            "; ".join(result["reasons"]) if result["moved"] else "",
            kind=result["kind"],
            null_shift=result["null_shift"],
            **result["stats"],
        )
        if plots:
            report.figures.append(
                _figure(name, result["kind"], *_columns(reference, current, name))
            )
    report.summary = {
        "reference_rows": reference.num_rows,
        "current_rows": current.num_rows,
        "features": len(names),
        "drifted": [f.subject for f in report.failures],
        "thresholds": {
            "psi": psi_threshold,
            "ks": ks_threshold,
            "alpha": alpha,
            "cramers_v": v_threshold,
            "null_shift": null_threshold,
        },
    }
    return report


def _figure(name: str, kind: str, ref: pa.ChunkedArray, cur: pa.ChunkedArray) -> Any:
    if kind == "numeric":
        return _plots.overlaid_histograms(name, _numbers(ref), _numbers(cur))
    ref_counts, cur_counts = _counts(ref), _counts(cur)
    top = sorted(ref_counts, key=lambda c: -ref_counts[c])[:10]
    top += [c for c in sorted(cur_counts, key=lambda c: -cur_counts[c]) if c not in top][:3]
    ref_total = max(sum(ref_counts.values()), 1)
    cur_total = max(sum(cur_counts.values()), 1)
    return _plots.categorical_bars(
        name,
        [str(c) for c in top],
        [ref_counts.get(c, 0) / ref_total for c in top],
        [cur_counts.get(c, 0) / cur_total for c in top],
    )


def parse_window(window: str, now: datetime) -> tuple[datetime, datetime]:
    """``"30d"`` (the last 30 days up to ``now``) or ``"START..END"`` (ISO dates/times)."""
    if ".." in window:
        start_text, end_text = window.split("..", 1)
        try:
            start = to_utc(datetime.fromisoformat(start_text.strip()))
            end = to_utc(datetime.fromisoformat(end_text.strip()))
        except ValueError:
            raise ConfigurationError(f"invalid window {window!r}: use START..END in ISO") from None
    else:
        end, start = now, now - parse_duration(window)
    if end <= start:
        raise ConfigurationError(f"window {window!r} is empty")
    return start, end


def current_from_window(
    repo: FeatureRepo,
    reference: pa.Table,
    window: str,
    *,
    service: str | None = None,
    now: datetime | None = None,
    max_entities: int = 20_000,
    seed: int = 0,
) -> pa.Table:
    """The reference's features as served during ``window``: each of the reference's
    entities (at most ``max_entities``) once, at a uniformly random time in the window,
    joined point-in-time with the reference's feature service."""
    import pandas as pd

    from potluck.features.retrieval import historical_features

    start, end = parse_window(window, now or datetime.now(UTC))
    metadata = reference.schema.metadata or {}
    service = service or metadata.get(b"potluck.feature_service", b"").decode()
    if not service:
        raise ConfigurationError("the reference does not name its feature service: pass --service")
    key = sorted(repo.resolve(service).join_keys)[0]
    ids = np.asarray(pc.unique(reference.column(key)).to_pylist(), dtype=object)
    rng = np.random.default_rng(seed)
    if ids.size > max_entities:
        ids = rng.choice(ids, size=max_entities, replace=False)
    offsets = rng.random(ids.size) * (end - start).total_seconds()
    times = pd.Timestamp(start) + pd.to_timedelta(offsets, unit="s")
    entity = pd.DataFrame({key: ids, "event_timestamp": times.floor("us")})
    table = historical_features(repo, entity, service)
    keep = [c for c in reference.column_names if c in table.column_names]
    return table.select(keep)
