"""Resolve what a caller asked for (a service name or feature refs) against the registry.

Every unknown reference is collected and reported in one error, instead of
Feast's first-failure exception. PII fields -- the deployment's contract PII and
anything tagged ``pii`` -- are flagged so callers can drop them from every
output; the contract's label and label-derived columns are flagged as ``label``
so callers refuse them as features.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from potluck.errors import FeatureReferenceError

if TYPE_CHECKING:
    from feast import FeatureStore

__all__ = ["ResolvedFeatures", "resolve_features"]


@dataclass(frozen=True)
class ResolvedFeatures:
    """The refs to retrieve, the Feast argument to pass, and what must not be served."""

    refs: list[str]
    feast_argument: Any  # a FeatureService or a list of refs
    service: str | None = None
    pii: frozenset[str] = field(default_factory=frozenset)  # short names of PII fields
    label: frozenset[str] = field(default_factory=frozenset)  # label + label-derived (contract)
    join_keys: frozenset[str] = field(default_factory=frozenset)
    on_demand: frozenset[str] = field(default_factory=frozenset)  # names computed at request time
    ttl_seconds: dict[str, float] = field(default_factory=dict)  # feature name -> its view's TTL

    @property
    def names(self) -> list[str]:
        return [ref.split(":", 1)[1] for ref in self.refs]


def _catalog(store: FeatureStore) -> tuple[dict[str, Any], dict[str, Any]]:
    project = store.project
    views = {v.name: v for v in store.registry.list_feature_views(project, allow_cache=True)}
    odfvs = {
        v.name: v for v in store.registry.list_on_demand_feature_views(project, allow_cache=True)
    }
    return views, odfvs


def resolve_features(
    store: FeatureStore,
    features: str | Sequence[str],
    *,
    contract_pii: frozenset[str] = frozenset(),
    contract_label: frozenset[str] = frozenset(),
) -> ResolvedFeatures:
    """``features`` is a feature service name or a list of ``view:feature`` refs;
    ``contract_pii`` / ``contract_label``: the deployment's (PII whatever the tags say)."""
    views, odfvs = _catalog(store)
    tagged = {f.name for v in views.values() for f in v.features if f.tags.get("pii") == "true"}
    pii = frozenset(tagged | contract_pii)
    if isinstance(features, str):
        services = {
            s.name: s for s in store.registry.list_feature_services(store.project, allow_cache=True)
        }
        service = services.get(features)
        if service is None:
            known = ", ".join(sorted(services)) or "none"
            raise FeatureReferenceError([features], hint=f"feature services: {known}")
        refs = [
            f"{p.name_to_use()}:{f.name}"
            for p in service.feature_view_projections
            for f in p.features
        ]
        argument: Any = service
        name: str | None = service.name
    else:
        refs, argument, name = list(features), list(features), None
    unknown = []
    join_keys: set[str] = set()
    on_demand: set[str] = set()
    ttl_seconds: dict[str, float] = {}
    for ref in refs:
        view_name, sep, feature = ref.partition(":")
        view = views.get(view_name) or odfvs.get(view_name)
        if not sep or view is None or feature not in {f.name for f in view.features}:
            unknown.append(ref)
        elif view_name in views:
            join_keys.update(col.name for col in views[view_name].entity_columns)
            ttl = views[view_name].ttl
            if ttl and ttl.total_seconds() > 0:
                ttl_seconds[feature] = ttl.total_seconds()
        else:
            on_demand.add(feature)
    if unknown:
        raise FeatureReferenceError(unknown)
    return ResolvedFeatures(
        refs=refs,
        feast_argument=argument,
        service=name,
        pii=pii,
        label=contract_label,
        join_keys=frozenset(join_keys),
        on_demand=frozenset(on_demand),
        ttl_seconds=ttl_seconds,
    )
