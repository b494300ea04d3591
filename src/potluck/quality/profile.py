"""``potluck profile``: what each feature's data looks like in its source.

Per feature (PII excluded): null rate, range, distinct values, outliers by IQR
(outside ``[q1 - 1.5 iqr, q3 + 1.5 iqr]``) and z-score (``|z| > 3``); per view the
staleness: age of its newest row against the view's TTL (a view whose newest row
is older than its TTL serves only nulls). Histograms go to the HTML report.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from potluck.quality import _plots
from potluck.quality._data import feature_views, read_view_rows, to_utc, view_source
from potluck.quality._report import Report, Status

if TYPE_CHECKING:
    from feast import FeatureView

    from potluck.features.repo import FeatureRepo

__all__ = ["column_profile", "profile"]

_CONTINUOUS = 12  # more distinct values than this: treated as continuous (histogram, outliers)


def _is_numeric(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)


def column_profile(column: pa.ChunkedArray | pa.Array, z: float = 3.0) -> dict[str, Any]:
    """Null rate, distinct count and, for numbers, range, mean, std and outlier counts
    (outliers only for continuous columns: a 0/1 flag's rare value is no outlier)."""
    rows = len(column)
    nulls = column.null_count
    out: dict[str, Any] = {
        "rows": rows,
        "null_rate": round(nulls / rows, 4) if rows else 0.0,
        "distinct": int(pc.count_distinct(column).as_py() or 0),
    }
    if _is_numeric(column.type) or pa.types.is_timestamp(column.type):
        values = column.cast(pa.int64()) if pa.types.is_timestamp(column.type) else column
        data = values.cast(pa.float64()).to_numpy(zero_copy_only=False)
        data = data[np.isfinite(data)]
        if data.size:
            q1, q3 = np.quantile(data, [0.25, 0.75])
            iqr = q3 - q1
            std = float(data.std())
            zs = np.abs(data - data.mean()) / std if std > 0 else np.zeros_like(data)
            out.update(
                min=float(data.min()),
                max=float(data.max()),
                mean=round(float(data.mean()), 4),
                std=round(std, 4),
            )
            if out["distinct"] > _CONTINUOUS:
                out.update(
                    outliers_iqr=int(((data < q1 - 1.5 * iqr) | (data > q3 + 1.5 * iqr)).sum()),
                    outliers_z=int((zs > z).sum()),
                )
    elif rows > nulls:
        counts = pc.value_counts(column.drop_null() if hasattr(column, "drop_null") else column)
        top = max(counts.to_pylist(), key=lambda c: c["counts"])
        out.update(top=top["values"], top_share=round(top["counts"] / (rows - nulls), 4))
    return out


def _view_figures(report: Report, view: FeatureView, table: pa.Table, names: list[str]) -> None:
    for name in names:
        column = table.column(name)
        title = f"{view.name}:{name}"
        if _is_numeric(column.type) and pc.count_distinct(column).as_py() > _CONTINUOUS:
            data = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
            report.figures.append(_plots.histogram(title, data))
        else:
            counts = pc.value_counts(column.drop_null()).to_pylist()
            counts.sort(key=lambda c: -c["counts"])
            top = counts[:12]
            total = max(sum(c["counts"] for c in counts), 1)
            report.figures.append(
                _plots.categorical_bars(
                    title, [str(c["values"]) for c in top], [c["counts"] / total for c in top]
                )
            )


def profile(
    repo: FeatureRepo,
    *,
    views: Sequence[str] | None = None,
    max_null_rate: float = 0.99,
    warn_null_rate: float = 0.5,
    max_outlier_share: float = 0.05,
    z: float = 3.0,
    plots: bool = True,
    now: datetime | None = None,
) -> Report:
    """Profile every non-PII feature of ``views`` (default all) from its source rows.

    Fails on a stale view (newest row older than the TTL) or a feature null in more
    than ``max_null_rate`` of rows; warns on many outliers or nulls above ``warn_null_rate``
    (some features are null by design, e.g. a 'days since the last event' with no event)."""
    now = now or datetime.now(UTC)
    report = Report(
        "profile",
        "potluck profile - features",
        columns=["null_rate", "min", "max", "distinct", "outliers_iqr", "outliers_z", "age_days"],
    )
    for view in feature_views(repo, views):
        src = view_source(view)
        names = [f.name for f in view.features if f.tags.get("pii") != "true"]
        table = read_view_rows(repo, view, [src.timestamp_field, *names])
        newest = pc.max(table.column(src.timestamp_field)).as_py() if table.num_rows else None
        ttl = view.ttl if view.ttl and view.ttl.total_seconds() > 0 else None
        age = (now - to_utc(newest)) if newest is not None else None
        stale = newest is None or (ttl is not None and age is not None and age > ttl)
        age_days = round(age.total_seconds() / 86400, 2) if age is not None else None
        report.add(
            "staleness",
            view.name,
            "fail" if stale else "pass",
            (
                "no rows"
                if newest is None
                else f"newest row {newest} is {age_days} d old; TTL {ttl.days if ttl else '-'} d"
            ),
            rows=table.num_rows,
            age_days=age_days,
            ttl_days=ttl.total_seconds() / 86400 if ttl else None,
        )
        for name in names:
            stats = column_profile(table.column(name), z)
            outliers = max(stats.get("outliers_iqr", 0), stats.get("outliers_z", 0))
            share = outliers / max(stats["rows"] - table.column(name).null_count, 1)
            problems = []
            if stats["null_rate"] > max_null_rate:
                problems.append(f"null rate {stats['null_rate']:.1%} > {max_null_rate:.0%}")
            if stale:
                problems.append("view is stale: every value is older than its TTL")
            notes = [f"{share:.1%} outliers"] if share > max_outlier_share else []
            if stats["null_rate"] > warn_null_rate and not problems:
                notes.append(f"null rate {stats['null_rate']:.1%}")
            status: Status = "fail" if problems else ("warn" if notes else "pass")
            detail = "; ".join(problems or notes)
            if "top" in stats:
                detail = detail or f"top {stats['top']!r} ({stats['top_share']:.0%})"
            report.add("feature", f"{view.name}:{name}", status, detail, age_days=age_days, **stats)
        if plots:
            _view_figures(report, view, table, names)
    report.summary = {
        "views": len({f.subject for f in report.findings if f.check == "staleness"}),
        "features": sum(1 for f in report.findings if f.check == "feature"),
        "stale_views": [
            f.subject for f in report.findings if f.check == "staleness" and f.status == "fail"
        ],
        "max_null_rate": max_null_rate,
        "now": now.isoformat(),
    }
    return report
