"""The demo's push: fresh rows online only, the service read before and after, then an
incremental materialization (see :class:`potluck.deployment.DemoPush`).

Rows of a push source whose events feed windowed views are folded into the window
states (:mod:`potluck.online.window_push`); other push sources go through Feast's
``PushMode.ONLINE``. Either way nothing reaches the source system, so the incremental
materialization that follows -- which rebuilds online values from the sources -- no
longer shows the pushed rows: that is what "online only" means.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from potluck.errors import NotFoundError

if TYPE_CHECKING:
    from potluck.deployment import DemoPush, Deployment
    from potluck.features.repo import FeatureRepo

__all__ = ["push_online_rows", "read_service", "show_push"]


def read_service(
    repo: FeatureRepo, deployment: Deployment, spec: DemoPush, ids: Sequence[Any], at: datetime
) -> list[dict[str, Any]]:
    from potluck.online.reads import entity_columns, online_features

    entities: dict[str, list[Any]] = entity_columns(deployment.primary_entity, ids)
    entities.update({k: [v] * len(ids) for k, v in spec.request.items()})
    return online_features(repo, spec.service, entities, now=at)


def push_online_rows(repo: FeatureRepo, push_source: str, rows: Any, at: datetime) -> list[str]:
    """Push ``rows`` online only; returns the feature views that received them."""
    from potluck.online.window_push import push_online

    try:
        return push_online(repo, push_source, rows, now=at).feature_views
    except NotFoundError as exc:
        if "no windowed view" not in exc.message:
            raise
    from feast.data_source import PushMode

    from potluck.offline.job import arrow_to_pandas

    repo.store.push(push_source, arrow_to_pandas(rows), to=PushMode.ONLINE)
    return []


def _changes(
    before: list[dict[str, Any]], after: list[dict[str, Any]], keys: set[str]
) -> dict[str, list[Any]]:
    out = {}
    for name, value in after[0].items():
        if name.startswith("_") or name in keys:
            continue
        if before[0].get(name) != value:
            out[name] = [before[0].get(name), value]
    return out


def show_push(
    repo: FeatureRepo, deployment: Deployment, entity_id: Any, at: datetime
) -> dict[str, Any]:
    """Push the deployment's demo rows for ``entity_id`` at ``at``; what changed."""
    spec = deployment.demo_push
    assert spec is not None
    keys = set(deployment.primary_entity.key_names) | set(spec.request)
    before = read_service(repo, deployment, spec, [entity_id], at)
    rows = spec.rows([entity_id], at)
    views = push_online_rows(repo, spec.push_source, rows, at)
    after = read_service(repo, deployment, spec, [entity_id], at)
    return {
        "push_source": spec.push_source,
        "service": spec.service,
        "entity": str(entity_id),
        "rows": rows.num_rows,
        "feature_views": views,
        "changed": _changes(before, after, keys),
        "before": before,
    }


def after_incremental(
    repo: FeatureRepo, deployment: Deployment, shown: dict[str, Any], entity_id: Any, at: datetime
) -> dict[str, list[Any]]:
    """The pushed changes still served after the rebuild (none: the push was online only
    and the rebuild came from the sources)."""
    spec = deployment.demo_push
    assert spec is not None
    keys = set(deployment.primary_entity.key_names) | set(spec.request)
    now = read_service(repo, deployment, spec, [entity_id], at)
    left = _changes(shown.pop("before"), now, keys)
    return {name: values for name, values in left.items() if name in shown["changed"]}
