"""``potluck consistency``: what the online store serves equals the offline truth.

For each online feature view, ``T`` is the end of its last materialization (Feast
records the intervals on the view). For a sample of entities the offline
point-in-time values at ``T`` (TTL relative to ``T``) must equal the online values
read as of ``T`` (potluck applies the same TTL rule online). A difference means the
online store does not hold what the sources say it should; its likely cause:

* ``late_arriving_rows`` - the source's row is inside a materialized interval, yet
  the online store lacks it: the row landed in the source after that run;
* ``stale_materialization`` - no materialization covered the row's event time, or the
  online value is no longer in the source (re-run ``potluck materialize``).

Values that matched at ``T`` but are null when read now expired since the run:
reported as ``ttl_expiry`` warnings (expected TTL semantics, a sign of stale data).

Given entity ids (``potluck consistency --entity card_12345``), only the views of
that entity are compared: the views keyed by ``entity_type``'s join key when one is
named, else every view whose source holds one of the ids. Views with composite join
keys are not compared (reported as ``info``).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow.compute as pc

from potluck.quality._data import feature_views, read_view_rows, sample_entity_ids, to_utc
from potluck.quality._data import view_source as _view_source
from potluck.quality._report import Report, Status

if TYPE_CHECKING:
    from feast import FeatureView

    from potluck.features.repo import FeatureRepo

__all__ = ["consistency", "same_value"]


def same_value(a: Any, b: Any) -> bool:
    """Equality across online (proto) and offline (Arrow) values: nulls/NaN equal, floats close."""
    a_null = a is None or (isinstance(a, float) and math.isnan(a))
    b_null = b is None or (isinstance(b, float) and math.isnan(b))
    if a_null or b_null:
        return a_null and b_null
    if isinstance(a, bool | int | float) and isinstance(b, bool | int | float):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


def _latest_event(repo: FeatureRepo, view: FeatureView, ids: Sequence[str], end: datetime) -> dict:
    """entity id -> event time of its latest source row at or before ``end``."""
    src = _view_source(view)
    rows = read_view_rows(repo, view, [src.join_keys[0], src.timestamp_field], keys=ids, end=end)
    if rows.num_rows == 0:
        return {}
    grouped = rows.group_by(src.join_keys[0]).aggregate([(src.timestamp_field, "max")])
    return dict(
        zip(
            grouped.column(src.join_keys[0]).to_pylist(),
            grouped.column(f"{src.timestamp_field}_max").to_pylist(),
            strict=True,
        )
    )


def _newer_rows(repo: FeatureRepo, view: FeatureView, ids: Sequence[str], after: datetime) -> int:
    src = _view_source(view)
    rows = read_view_rows(repo, view, [src.timestamp_field], keys=ids)
    return int(pc.sum(pc.greater(rows.column(0), after)).as_py() or 0)


def _covered(moment: datetime | None, intervals: Sequence[tuple[datetime, datetime]]) -> bool:
    if moment is None:
        return False
    moment = to_utc(moment)
    return any(to_utc(s) <= moment <= to_utc(e) for s, e in intervals)


def _cause(offline: Any, event: datetime | None, intervals: list) -> tuple[str, str]:
    if offline is not None and _covered(event, intervals):
        return "late_arriving_rows", f"source row at {event} is in a materialized interval"
    if offline is not None:
        return "stale_materialization", f"source row at {event} was never materialized"
    return "stale_materialization", "online value no longer in the source as of T"


def _check_view(
    repo: FeatureRepo, report: Report, view: FeatureView, ids: list[str], now: datetime
) -> None:
    import pandas as pd

    from potluck.features.retrieval import historical_features
    from potluck.online.reads import online_features

    intervals = list(view.materialization_intervals)
    if not intervals or view.most_recent_end_time is None:
        report.add("view", view.name, "fail", "never materialized: run `potluck materialize`")
        return
    at = to_utc(view.most_recent_end_time)
    names = [f.name for f in view.features if f.tags.get("pii") != "true"]
    refs = [f"{view.name}:{n}" for n in names]
    key = _view_source(view).join_keys[0]
    entity = pd.DataFrame({key: ids, "event_timestamp": pd.Timestamp(at)})
    offline = {r[key]: r for r in historical_features(repo, entity, refs).to_pylist()}
    online_at = {r[key]: r for r in online_features(repo, refs, ids, now=at)}
    online_now = {r[key]: r for r in online_features(repo, refs, ids, now=now)}
    events = _latest_event(repo, view, ids, at)
    newer = _newer_rows(repo, view, ids, at)
    report.add(
        "view",
        view.name,
        "warn" if newer else "pass",
        f"last materialized to {at.isoformat()}"
        + (f"; {newer} sample source rows are newer (materialize again)" if newer else ""),
        entities=len(ids),
        materialized_to=at,
        newer_source_rows=newer,
    )
    for name in names:
        causes: Counter[str] = Counter()
        examples: list[str] = []
        for entity_id in ids:
            want = offline.get(entity_id, {}).get(name)
            got = online_at.get(entity_id, {}).get(name)
            if not same_value(got, want):
                cause, why = _cause(want, events.get(entity_id), intervals)
                causes[cause] += 1
                if len(examples) < 3:
                    examples.append(f"{entity_id}: online {got!r} != offline {want!r} ({why})")
            elif not same_value(online_now.get(entity_id, {}).get(name), want):
                causes["ttl_expiry"] += 1
                if len(examples) < 3:
                    examples.append(f"{entity_id}: {want!r} expired since {at.date()}")
        mismatches = sum(n for c, n in causes.items() if c != "ttl_expiry")
        status: Status = "fail" if mismatches else ("warn" if causes else "pass")
        report.add(
            "feature",
            f"{view.name}:{name}",
            status,
            "; ".join(examples) if examples else "online equals offline",
            compared=len(ids),
            mismatches=mismatches,
            causes=dict(causes),
        )


def _holds(repo: FeatureRepo, view: FeatureView, ids: Sequence[str]) -> bool:
    """Whether the view's source has a row for any of ``ids``."""
    key = _view_source(view).join_keys[0]
    try:
        return read_view_rows(repo, view, [key], keys=ids).num_rows > 0
    except Exception:  # an unreadable source: compared (and reported) like any other
        return True


def _entity_views(
    repo: FeatureRepo,
    views: list[FeatureView],
    ids: Sequence[str],
    entity_type: str | None,
) -> list[FeatureView]:
    """The views of the entity ``ids`` belong to (see the module docstring)."""
    if entity_type is None:
        return [v for v in views if _holds(repo, v, ids)]
    from potluck.errors import ConfigurationError

    entity = repo.store.registry.get_entity(entity_type, repo.store.project)
    keys = [entity.join_key]
    chosen = [v for v in views if _view_source(v).join_keys == keys]
    if not chosen:
        raise ConfigurationError(f"no online feature view is keyed by entity '{entity_type}'")
    return chosen


def consistency(
    repo: FeatureRepo,
    *,
    sample: int = 200,
    seed: int = 0,
    entity_ids: Sequence[str] | None = None,
    entity_type: str | None = None,
    views: Sequence[str] | None = None,
    now: datetime | None = None,
) -> Report:
    """Compare online and offline values for ``entity_ids`` (or a sample) per online view;
    with ``entity_ids``, only that entity's views (``entity_type``'s, or those holding them)."""
    now = now or datetime.now(UTC)
    ids = sorted(entity_ids) if entity_ids is not None else sample_entity_ids(repo, sample, seed)
    report = Report(
        "consistency",
        "potluck consistency - online vs offline",
        columns=["compared", "mismatches", "causes"],
    )
    chosen = []
    for view in feature_views(repo, views):
        if not view.online:
            continue
        if len(_view_source(view).join_keys) != 1:
            report.add("view", view.name, "info", "composite join keys: not compared")
            continue
        chosen.append(view)
    if entity_ids is not None:
        chosen = _entity_views(repo, chosen, ids, entity_type)
        if not chosen:
            report.add("entity", ", ".join(ids), "fail", "in no online feature view's source")
    for view in chosen:
        _check_view(repo, report, view, ids, now)
    causes: Counter[str] = Counter()
    for finding in report.findings:
        causes.update(finding.metrics.get("causes", {}))
    report.summary = {
        "entities": len(ids),
        "views": len({f.subject for f in report.findings if f.check == "view"}),
        "mismatches": sum(f.metrics.get("mismatches", 0) for f in report.findings),
        "causes": dict(causes),
        "now": now.isoformat(),
    }
    return report
