"""The seed lakehouse platform's API, mapped onto potluck's services: feature views.

Nothing here trains, joins or scores by itself: each seed request is translated
into potluck's own request (feature view, training, prediction) and handed to the
same service the native endpoints use, so PII, label-leakage and point-in-time rules
hold alike. Translation problems and the native checks are gathered together: a
request is refused with every problem named, before anything is registered.

Mappings: a seed ``source`` (``catalog``, ``schema``, ``table_name``) is a table of
the logical source whose binding has that connector kind and namespace; seed
``entities`` are entity names or join keys; ``model_id`` is ``name:version`` (or a
name: its production alias, else its latest version). Models and predictions:
:mod:`potluck.services.lakehouse_compat_models`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from potluck.deployment import active_deployment
from potluck.errors import InvalidInputError
from potluck.profiles import source_bindings
from potluck.schemas import lakehouse_compat as seed

if TYPE_CHECKING:
    from potluck.features.repo import FeatureRepo

__all__ = [
    "build",
    "create_feature_service",
    "list_feature_views",
    "parse_model_id",
    "register_feature_view",
    "status",
]

_SUPPORTED_DTYPES = {"int32", "int64", "float32", "float64", "string", "bool", "unix_timestamp"}
M = TypeVar("M", bound=BaseModel)


def build(model: type[M], what: str, problems: list[str], /, **values: Any) -> M | None:
    """potluck's request model, or None with its validation problems appended."""
    try:
        return model(**values)
    except ValidationError as exc:
        for e in exc.errors():
            loc = ".".join(str(p) for p in e["loc"])
            problems.append(f"{what}{'.' + loc if loc else ''}: {e['msg']}")
        return None


def _now() -> datetime:
    return datetime.now(UTC)


# ------------------------------------------------------------------ feature views
def _entity_names(repo: FeatureRepo, given: list[str], problems: list[str]) -> list[str]:
    deployment = active_deployment(repo.settings)
    names = []
    for value in given:
        match = [e.name for e in deployment.entities if value == e.name or value in e.key_names]
        if match:
            names.append(match[0])
        else:
            known = ", ".join(f"{e.name} ({', '.join(e.key_names)})" for e in deployment.entities)
            problems.append(f"unknown entity or join key '{value}' (known: {known})")
    return names


def _catalog_source(
    repo: FeatureRepo, source: seed.DataSourceConfig, problems: list[str]
) -> str | None:
    """The logical source serving ``catalog.schema``: its connector kind and namespace."""
    bindings = source_bindings(repo.settings)
    found = [
        name
        for name, b in bindings.items()
        if b["kind"] == source.catalog
        and b["options"].get("namespace", "default") == source.schema_name
    ]
    if not found:
        have = sorted(
            {f"{b['kind']}.{b['options'].get('namespace', 'default')}" for b in bindings.values()}
            - {f"{b['kind']}.default" for b in bindings.values() if b["kind"] != "iceberg"}
        )
        problems.append(
            f"no source of this profile serves catalog '{source.catalog}' schema "
            f"'{source.schema_name}' (catalog schemas: {', '.join(have) or 'none'})"
        )
        return None
    return source.table_name if source.table_name in found else found[0]


def register_feature_view(
    repo: FeatureRepo, body: seed.FeatureViewRequest
) -> seed.FeatureSetResponse:
    from potluck.schemas.features import FeatureViewCreate, FieldCreate
    from potluck.services import feature_views

    problems: list[str] = []
    entities = _entity_names(repo, body.entities, problems)
    for f in body.features:
        if f.dtype not in _SUPPORTED_DTYPES:
            problems.append(
                f"feature '{f.name}': dtype '{f.dtype}' is not supported "
                f"(supported: {', '.join(sorted(_SUPPORTED_DTYPES))})"
            )
    logical = _catalog_source(repo, body.source, problems)
    timestamp = body.source.timestamp_field
    declared = active_deployment(repo.settings).sources.get(body.source.table_name)
    if timestamp is None and declared is not None:
        timestamp = declared.timestamp_field
    if timestamp is None:
        problems.append("source.timestamp_field is required (point-in-time joins need it)")
    fields = [
        FieldCreate(name=f.name, dtype=f.dtype, description=f.description or "", tags=f.tags)  # type: ignore[arg-type]
        for f in body.features
        if f.dtype in _SUPPORTED_DTYPES
    ]
    spec = None
    if logical is not None and timestamp is not None and entities and fields:
        spec = build(
            FeatureViewCreate,
            "feature view",
            problems,
            name=body.name,
            entities=entities,
            fields=fields,
            source=logical,
            table=body.source.table_name,
            timestamp_field=timestamp,
            ttl_seconds=body.ttl_seconds or 0,
            online=body.online,
            description=body.description or "",
            tags=body.tags,
        )
    if spec is not None:
        problems += feature_views.feature_view_problems(repo, spec)
    if problems or spec is None:
        raise InvalidInputError("feature view", problems or ["nothing to register"])
    view = feature_views.register_feature_view(repo, spec)
    where = f"{body.source.catalog}.{body.source.schema_name}.{body.source.table_name}"
    return seed.FeatureSetResponse(
        name=view.name,
        entities=list(body.entities),
        features=[f.name for f in view.fields],
        source_table=where,
        online_enabled=view.online,
        created_at=_now(),
        status="registered",
        message=f"reads {where} in place through source '{logical}' (point-in-time)",
    )


def create_feature_service(repo: FeatureRepo, body: seed.FeatureServiceRequest) -> dict[str, Any]:
    from potluck.schemas.features import FeatureServiceCreate
    from potluck.services import feature_views

    views = {v.name: v for v in feature_views.list_feature_views(repo)}
    missing = [v for v in body.feature_views if v not in views]
    if missing:
        raise InvalidInputError("feature service", [f"unknown feature view '{v}'" for v in missing])
    refs = [f"{v}:{f.name}" for v in body.feature_views for f in views[v].fields]
    problems: list[str] = []
    spec = build(
        FeatureServiceCreate,
        "feature service",
        problems,
        name=body.name,
        features=refs,
        description=body.description or "",
        tags=body.tags,
    )
    if spec is None:
        raise InvalidInputError("feature service", problems)
    made = feature_views.create_feature_service(repo, spec)
    return {
        "name": made.name,
        "feature_views": list(body.feature_views),
        "features": made.features,
        "status": "registered",
        "created_at": _now().isoformat(),
    }


def list_feature_views(repo: FeatureRepo) -> list[seed.FeatureViewInfo]:
    from potluck.services import feature_views

    registry, project = repo.store.registry, repo.store.project
    created = {
        v.name: v.created_timestamp for v in registry.list_feature_views(project, allow_cache=True)
    }
    return [
        seed.FeatureViewInfo(
            name=v.name,
            entities=v.entities,
            features=[
                {"name": f.name, "dtype": f.dtype, "description": f.description} for f in v.fields
            ],
            online_enabled=v.online,
            ttl_seconds=v.ttl_seconds or 0,
            created_at=created.get(v.name),
        )
        for v in feature_views.list_feature_views(repo)
        if v.kind == "batch"
    ]


def status(repo: FeatureRepo) -> seed.FeatureStoreStatus:
    store = repo.store
    registry, project = store.registry, store.project
    views = sorted(v.name for v in registry.list_feature_views(project, allow_cache=True))
    views += sorted(
        v.name for v in registry.list_on_demand_feature_views(project, allow_cache=True)
    )
    entities = sorted(
        e.name
        for e in registry.list_entities(project, allow_cache=True)
        if not e.name.startswith("__")
    )
    services = registry.list_feature_services(project, allow_cache=True)
    config = store.config
    offline = type(config.offline_store).__name__.removesuffix("Config")
    return seed.FeatureStoreStatus(
        registry_type=str(getattr(config.registry, "registry_type", "file")),
        online_store_type=str(getattr(config.online_store, "type", "sqlite")),
        offline_store_type=offline,
        num_feature_views=len(views),
        num_entities=len(entities),
        num_feature_services=len(services),
        feature_views=views,
        entities=entities,
    )


# ------------------------------------------------------------------ models
def parse_model_id(model_id: str) -> tuple[str, int | None]:
    """``name:version`` -> (name, version); ``name`` -> (name, None)."""
    name, sep, version = model_id.rpartition(":")
    if sep and version.isdigit() and name:
        return name, int(version)
    return model_id, None
