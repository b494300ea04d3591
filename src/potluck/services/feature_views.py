"""Register and list feature views over declared sources, and feature services.

A registration is checked completely before anything is written -- the source
is bound in the profile, its table is readable, every column exists with a type
matching the declared dtype, the timestamp and join keys are there, no field is a
column the deployment's data contract marks PII, label or label-derived, the name
is free -- and *every* problem is reported in one :class:`InvalidInputError`
(a taken name alone is a 409 :class:`ConflictError`). The check and the write
happen under one lock, so two requests racing on a name get one 201 and one 409.
PII fields (contract or tag) are never listed and can never enter a feature service.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from potluck.deployment import active_deployment
from potluck.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PotluckError,
    RequestError,
)
from potluck.profiles import source_bindings
from potluck.schemas.features import (
    FeatureServiceCreate,
    FeatureServicePublic,
    FeatureViewCreate,
    FeatureViewPublic,
    FieldPublic,
)
from potluck.services._locks import exclusive

if TYPE_CHECKING:
    from potluck.features.repo import FeatureRepo

__all__ = [
    "create_feature_service",
    "feature_view_problems",
    "get_feature_view",
    "list_feature_services",
    "list_feature_views",
    "register_feature_view",
    "source_schema",
]

_DTYPE_CHECKS: dict[str, Callable[[pa.DataType], bool]] = {
    "string": lambda t: pa.types.is_string(t) or pa.types.is_large_string(t),
    "int64": pa.types.is_integer,
    "int32": pa.types.is_integer,
    "float64": pa.types.is_floating,
    "float32": pa.types.is_floating,
    "bool": pa.types.is_boolean,
    "unix_timestamp": pa.types.is_timestamp,
}


def _feast_type(dtype: str) -> Any:
    from feast import types

    return {
        "string": types.String,
        "int64": types.Int64,
        "int32": types.Int32,
        "float64": types.Float64,
        "float32": types.Float32,
        "bool": types.Bool,
        "unix_timestamp": types.UnixTimestamp,
    }[dtype]


def _dtype_name(dtype: Any) -> str:
    text = str(dtype)
    return {"UnixTimestamp": "unix_timestamp"}.get(text, text.lower())


def _is_pii(field: Any, contract_pii: frozenset[str] = frozenset()) -> bool:
    return bool(field.tags.get("pii") == "true") or field.name in contract_pii


def _contract_problems(repo: FeatureRepo, names: list[str]) -> list[str]:
    """A problem per field the deployment's contract forbids as a feature."""
    contract = active_deployment(repo.settings)
    problems = []
    pii = [n for n in names if n in contract.pii_columns]
    if pii:
        problems.append(
            f"PII in the data contract, never a feature (whatever its tags): {', '.join(pii)}"
        )
    label = [n for n in names if n in contract.label_columns]
    if label:
        problems.append(
            f"the deployment's label or label-derived columns, never a feature: {', '.join(label)}"
        )
    return problems


def _raise(what: str, problems: list[str], taken: str) -> None:
    if problems == [taken]:
        raise ConflictError(taken)
    if problems:
        raise InvalidInputError(what, problems)


def source_schema(repo: FeatureRepo, source: str, table: str) -> pa.Schema:
    """The schema of ``table`` in logical ``source`` (ConfigurationError/SourceError if not)."""
    from potluck.offline.bindings import SourceBinding, connector_for_name

    bindings = source_bindings(repo.settings)
    if source not in bindings:
        known = ", ".join(sorted(bindings))
        raise RequestError(f"unknown source '{source}' (sources of this profile: {known})")
    return connector_for_name(source, SourceBinding(**bindings[source])).schema(table)


def _existing_names(repo: FeatureRepo) -> set[str]:
    registry, project = repo.store.registry, repo.store.project
    views = registry.list_feature_views(project, allow_cache=False)
    odfvs = registry.list_on_demand_feature_views(project, allow_cache=False)
    return {v.name for v in views} | {v.name for v in odfvs}


def _problems(repo: FeatureRepo, spec: FeatureViewCreate) -> tuple[list[str], list[Any]]:
    problems: list[str] = []
    if spec.name in _existing_names(repo):
        problems.append(_taken("feature view", spec.name))
    entities = {
        e.name: e
        for e in repo.store.registry.list_entities(repo.store.project)
        if not e.name.startswith("__")  # Feast's internal dummy entity
    }
    unknown = [e for e in spec.entities if e not in entities]
    if unknown:
        problems.append(
            f"unknown entities: {', '.join(unknown)} (known: {', '.join(sorted(entities))})"
        )
    join_keys = [k for e in spec.entities if e in entities for k in [entities[e].join_key]]
    problems += _contract_problems(repo, [f.name for f in spec.fields])
    seen: set[str] = set()
    for field in spec.fields:
        if field.name in seen:
            problems.append(f"field '{field.name}' is declared twice")
        seen.add(field.name)
        if field.name in join_keys or field.name == spec.timestamp_field:
            problems.append(f"field '{field.name}' is a join key or the timestamp field")
    try:
        schema = source_schema(repo, spec.source, spec.table or spec.source)
    except PotluckError as exc:
        problems.append(exc.message)
        return problems, []
    columns = {f.name: f.type for f in schema}
    where = f"source '{spec.source}' table '{spec.table or spec.source}'"
    for field in spec.fields:
        if field.name not in columns:
            problems.append(f"column '{field.name}' is not in {where}")
        elif not _DTYPE_CHECKS[field.dtype](columns[field.name]):
            problems.append(
                f"field '{field.name}' is declared {field.dtype} but the column is {columns[field.name]}"
            )
    ts = columns.get(spec.timestamp_field)
    if ts is None:
        problems.append(f"timestamp field '{spec.timestamp_field}' is not in {where}")
    elif not pa.types.is_timestamp(ts):
        problems.append(f"timestamp field '{spec.timestamp_field}' is {ts}, not a timestamp")
    for key in join_keys:
        if key not in columns:
            problems.append(f"join key '{key}' is not in {where}")
    return problems, [entities[e] for e in spec.entities if e in entities]


def feature_view_problems(repo: FeatureRepo, spec: FeatureViewCreate) -> list[str]:
    """Every problem :func:`register_feature_view` would refuse ``spec`` for (none: valid)."""
    return _problems(repo, spec)[0]


def register_feature_view(repo: FeatureRepo, spec: FeatureViewCreate) -> FeatureViewPublic:
    """Validate everything, then apply the view to the Feast registry."""
    with exclusive(repo.settings, "registry"):
        problems, entities = _problems(repo, spec)
        _raise("feature view", problems, _taken("feature view", spec.name))
        _apply(repo, _feature_view(spec, entities))
        # Read back past the registry cache: a concurrent reader's refresh may have put an
        # older copy there after ours (two racing registrations showed it).
        return get_feature_view(repo, spec.name, fresh=True)


def _taken(what: str, name: str) -> str:
    return f"a {what} named '{name}' already exists"


def _feature_view(spec: FeatureViewCreate, entities: list[Any]) -> Any:
    from feast import FeatureView, Field

    from potluck.offline.source import PotluckSource

    return FeatureView(
        name=spec.name,
        entities=entities,
        ttl=timedelta(seconds=spec.ttl_seconds),
        schema=[
            Field(name=f.name, dtype=_feast_type(f.dtype), description=f.description, tags=f.tags)
            for f in spec.fields
        ],
        source=PotluckSource(
            name=f"{spec.name}_source",
            source=spec.source,
            table=spec.table or spec.source,
            timestamp_field=spec.timestamp_field,
        ),
        online=spec.online,
        description=spec.description,
        owner=spec.owner,
        tags=spec.tags,
    )


def _apply(repo: FeatureRepo, obj: Any) -> None:
    try:
        repo.store.apply([obj])
    except PotluckError:
        raise
    except Exception as exc:
        raise RequestError(
            f"the registry refused '{obj.name}': {type(exc).__name__}: {exc}"
        ) from None
    repo.store.refresh_registry()


def _public_view(view: Any, kind: str, contract_pii: frozenset[str]) -> FeatureViewPublic:
    fields = [f for f in view.features if not _is_pii(f, contract_pii)]
    ttl = getattr(view, "ttl", None)
    source = getattr(view, "batch_source", None)
    return FeatureViewPublic(
        name=view.name,
        kind=kind,  # type: ignore[arg-type]
        entities=list(getattr(view, "entities", []) or []),
        fields=[
            FieldPublic(
                name=f.name,
                dtype=_dtype_name(f.dtype),
                description=f.description,
                tags=dict(f.tags),
            )
            for f in fields
        ],
        pii_fields_hidden=len(view.features) - len(fields),
        source=getattr(source, "source", None) or (source.name if source is not None else None),
        ttl_seconds=int(ttl.total_seconds()) if ttl is not None and kind == "batch" else None,
        online=bool(getattr(view, "online", True)),
        description=view.description,
        owner=view.owner,
        tags=dict(view.tags),
    )


def list_feature_views(repo: FeatureRepo, *, fresh: bool = False) -> list[FeatureViewPublic]:
    """Every view (``fresh``: read the registry itself, not its cached copy)."""
    registry, project = repo.store.registry, repo.store.project
    pii = active_deployment(repo.settings).pii_columns
    views = [
        _public_view(v, "batch", pii)
        for v in registry.list_feature_views(project, allow_cache=not fresh)
    ]
    views += [
        _public_view(v, "on_demand", pii)
        for v in registry.list_on_demand_feature_views(project, allow_cache=not fresh)
    ]
    return sorted(views, key=lambda v: v.name)


def get_feature_view(repo: FeatureRepo, name: str, *, fresh: bool = False) -> FeatureViewPublic:
    for view in list_feature_views(repo, fresh=fresh):
        if view.name == name:
            return view
    raise NotFoundError(f"no feature view named '{name}'")


def _public_service(service: Any) -> FeatureServicePublic:
    return FeatureServicePublic(
        name=service.name,
        features=[
            f"{p.name_to_use()}:{f.name}"
            for p in service.feature_view_projections
            for f in p.features
        ],
        description=service.description,
        owner=service.owner,
        tags=dict(service.tags),
    )


def list_feature_services(repo: FeatureRepo) -> list[FeatureServicePublic]:
    registry, project = repo.store.registry, repo.store.project
    services = registry.list_feature_services(project, allow_cache=True)
    return sorted((_public_service(s) for s in services), key=lambda s: s.name)


def create_feature_service(repo: FeatureRepo, spec: FeatureServiceCreate) -> FeatureServicePublic:
    """Refs must exist (all unknown ones listed); none may be PII (contract or tag), the
    label or label-derived (contract)."""
    with exclusive(repo.settings, "registry"):
        return _create_feature_service(repo, spec)


def _create_feature_service(repo: FeatureRepo, spec: FeatureServiceCreate) -> FeatureServicePublic:
    from feast import FeatureService

    registry, project = repo.store.registry, repo.store.project
    problems = []
    taken = _taken("feature service", spec.name)
    if spec.name in {s.name for s in registry.list_feature_services(project, allow_cache=False)}:
        problems.append(taken)
    if len(set(spec.features)) != len(spec.features):
        problems.append("a feature is listed twice")
    resolved = repo.resolve(list(spec.features))  # FeatureReferenceError lists every unknown ref
    pii = [ref for ref in resolved.refs if ref.split(":", 1)[1] in resolved.pii]
    if pii:
        problems.append(f"PII-tagged features cannot be served: {', '.join(pii)}")
    label = [ref for ref in resolved.refs if ref.split(":", 1)[1] in resolved.label]
    if label:
        problems.append(
            f"the deployment's label or label-derived columns cannot be served: {', '.join(label)}"
        )
    _raise("feature service", problems, taken)
    by_view: dict[str, list[str]] = {}
    for ref in spec.features:
        view, feature = ref.split(":", 1)
        by_view.setdefault(view, []).append(feature)
    views: dict[str, Any] = {
        v.name: v for v in registry.list_feature_views(project, allow_cache=False)
    }
    views.update(
        {v.name: v for v in registry.list_on_demand_feature_views(project, allow_cache=False)}
    )
    service = FeatureService(
        name=spec.name,
        features=[views[view][features] for view, features in by_view.items()],
        description=spec.description,
        owner=spec.owner,
        tags=spec.tags,
    )
    _apply(repo, service)
    return _public_service(service)
