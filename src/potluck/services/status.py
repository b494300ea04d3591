"""Is each part of the platform up, and how fast does it answer?

Registry (list entities), online store (a read of a probe entity through the
same path as predictions), every offline source binding (its connector's
``ping`` and the schema of its table) and MLflow (a registry search). A check
that fails reports ``up: false`` with the error's message -- never a stack
trace -- and the others still run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from potluck.errors import PotluckError
from potluck.schemas.status import ComponentPublic, StatusPublic

if TYPE_CHECKING:
    from potluck.features.repo import FeatureRepo
    from potluck.settings import Settings

__all__ = ["PROBE_ENTITY", "platform_status"]

PROBE_ENTITY = "__potluck_status_probe__"


def _check(name: str, kind: str, probe: Callable[[], str]) -> ComponentPublic:
    started = time.perf_counter()
    try:
        detail, up = probe(), True
    except PotluckError as exc:
        detail, up = exc.message, False
    except Exception as exc:  # a driver's error: its type and message, no traceback
        detail, up = f"{type(exc).__name__}: {exc}"[:500], False
    latency = round((time.perf_counter() - started) * 1000, 3)
    return ComponentPublic(name=name, kind=kind, up=up, latency_ms=latency, detail=detail)  # type: ignore[arg-type]


def _registry(repo: FeatureRepo) -> str:
    registry = repo.store.registry
    registry.refresh(repo.store.project)
    entities = registry.list_entities(repo.store.project, allow_cache=True)
    return f"{len(entities)} entities"


def _online(repo: FeatureRepo) -> str:
    from potluck.online.reads import online_features

    views = [v for v in repo.store.list_feature_views() if v.online]
    refs = [f"{v.name}:{f.name}" for v in views for f in v.features if f.tags.get("pii") != "true"]
    if not refs:
        return "no online feature views registered"
    rows = online_features(repo, refs[:1], [PROBE_ENTITY])
    return f"{repo.config.online_store.type} store answered ({len(rows)} probe row)"


def _source(repo: FeatureRepo, name: str, binding: dict[str, object]) -> Callable[[], str]:
    def probe() -> str:
        from potluck.offline.bindings import SourceBinding, connector_for_name

        connector = connector_for_name(name, SourceBinding(**binding))  # type: ignore[arg-type]
        connector.ping()
        schema = connector.schema(name)
        return f"{binding['kind']}: {len(schema)} columns"

    return probe


def _mlflow(settings: Settings) -> str:
    from potluck.ml.registry import configure_mlflow

    client = configure_mlflow(settings).MlflowClient()
    models = client.search_registered_models(max_results=100)
    return f"{len(models)} registered model(s)"


def platform_status(settings: Settings, repo: FeatureRepo) -> StatusPublic:
    from potluck.profiles import source_bindings

    components = [
        _check("registry", "registry", lambda: _registry(repo)),
        _check("online_store", "online_store", lambda: _online(repo)),
    ]
    for name, binding in source_bindings(settings).items():
        components.append(_check(name, "offline_source", _source(repo, name, binding)))
    components.append(_check("mlflow", "mlflow", lambda: _mlflow(settings)))
    healthy = all(c.up for c in components)
    return StatusPublic(
        status="ok" if healthy else "degraded", profile=settings.profile, components=components
    )
