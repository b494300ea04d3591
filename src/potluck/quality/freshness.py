"""``potluck freshness``: is each view's online data as fresh as its owners promised?

A view declares its promise as the tag ``freshness_target`` (e.g. ``"400d"``,
``"12h"``). For each online view we report when it was last materialized (Feast
records the intervals on the view) and the age of its newest online value: the
newest event timestamp the online store returns for the entities whose source rows
are the newest (the ones that must carry the newest values). A view misses its
target when it was never materialized or its newest online value is older than the
target; the command then exits non-zero so cron or CI can alert.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pyarrow.compute as pc

from potluck.quality import _plots
from potluck.quality._data import (
    feature_views,
    parse_duration,
    read_view_rows,
    to_utc,
    view_source,
)
from potluck.quality._report import Report, Status

if TYPE_CHECKING:
    from feast import FeatureView

    from potluck.features.repo import FeatureRepo

__all__ = ["TAG", "freshness", "newest_online_value"]

TAG = "freshness_target"


def _newest_entities(
    repo: FeatureRepo, view: FeatureView, probe: int
) -> tuple[list[str], datetime | None]:
    """The ids of the ``probe`` entities with the newest source rows, and the newest time."""
    src = view_source(view)
    rows = read_view_rows(repo, view, [src.join_keys[0], src.timestamp_field])
    if rows.num_rows == 0:
        return [], None
    newest = rows.sort_by([(src.timestamp_field, "descending")])
    ids: list[str] = []
    for entity_id in newest.column(0).to_pylist():
        if entity_id not in ids:
            ids.append(entity_id)
        if len(ids) >= probe:
            break
    return ids, to_utc(pc.max(rows.column(src.timestamp_field)).as_py())


def newest_online_value(
    repo: FeatureRepo, view: FeatureView, ids: Sequence[str]
) -> datetime | None:
    """The newest event timestamp the online store holds for ``ids`` in ``view``."""
    src = view_source(view)
    refs = [f"{view.name}:{f.name}" for f in view.features]
    response = repo.store.get_online_features(
        features=refs, entity_rows=[{src.join_keys[0]: i} for i in ids]
    )
    columns = response.to_dict(include_event_timestamps=True)
    stamps = [s for name, values in columns.items() if name.endswith("__ts") for s in values if s]
    return datetime.fromtimestamp(max(stamps), UTC) if stamps else None


def _days(seconds: float | None) -> float | None:
    return round(seconds / 86400, 3) if seconds is not None else None


def freshness(
    repo: FeatureRepo,
    *,
    views: Sequence[str] | None = None,
    probe: int = 50,
    now: datetime | None = None,
    plots: bool = True,
) -> Report:
    """Last materialization and newest online value of each online view vs its target."""
    now = now or datetime.now(UTC)
    report = Report(
        "freshness",
        "potluck freshness - online views vs their targets",
        columns=["target", "last_materialized", "materialized_age_days", "online_age_days"],
    )
    for view in feature_views(repo, views):
        if not view.online:
            continue
        target_text = view.tags.get(TAG)
        target = parse_duration(target_text) if target_text else None
        last = to_utc(view.most_recent_end_time) if view.most_recent_end_time else None
        ids, source_newest = _newest_entities(repo, view, probe)
        online = newest_online_value(repo, view, ids) if ids and last else None
        online_age = (now - online).total_seconds() if online else None
        metrics = {
            "target": target_text,
            "target_days": _days(target.total_seconds()) if target else None,
            "last_materialized": last,
            "materialized_age_days": _days((now - last).total_seconds()) if last else None,
            "newest_online_value": online,
            "online_age_days": _days(online_age),
            "newest_source_row": source_newest,
        }
        status: Status
        if last is None:
            status, detail = "fail", "never materialized: run `potluck materialize`"
        elif online is None:
            status = "fail"
            detail = "the online store holds no value for the entities with the newest rows"
        elif target is None:
            status, detail = "info", f"no '{TAG}' tag: nothing to hold it to"
        elif online_age is not None and online_age > target.total_seconds():
            status = "fail"
            detail = f"newest online value is {_days(online_age)} d old > target {target_text}"
        else:
            status, detail = "pass", f"newest online value {_days(online_age)} d old"
        if last and source_newest and source_newest > last:
            detail += f"; the source has rows after the last materialization ({source_newest})"
        report.add("view", view.name, status, detail, **metrics)
    if plots and report.findings:
        _figure(report)
    report.summary = {
        "views": len(report.findings),
        "missed": [f.subject for f in report.failures],
        "now": now.isoformat(),
    }
    return report


def _figure(report: Report) -> None:
    names = [f.subject for f in report.findings]
    ages = [f.metrics.get("online_age_days") or 0.0 for f in report.findings]
    targets = [f.metrics.get("target_days") for f in report.findings]
    shares = [a / t if t else 0.0 for a, t in zip(ages, targets, strict=True)]
    report.figures.append(
        _plots.bar_chart(
            "age of the newest online value / freshness target (red: missed)",
            names,
            shares,
            threshold=1.0,
            xlabel="age / target",
        )
    )
