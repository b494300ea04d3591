"""On-demand views over window features or request data, on the online read path.

The fast plan (``_plan``) reads an on-demand view's inputs from Feast's online rows;
a windowed view has none (its online form is potluck's per-key state), and request
data (``current_hour`` ...) comes from the caller, not the store. Such a view is
*late*: its input features are read with the rest -- window values evaluated at the
read time, other views' latest values -- its request fields are taken from the
caller's entity columns, and then its own transformation runs (Feast's UDF and value
conversion, or the view's verified kernel when it reads no request data). For a row
whose inputs expired (past a view's TTL or a window state's horizon) its outputs are
expired too; for an unknown entity they are null.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from potluck.errors import RequestError
from potluck.online._odfv import OnDemandStep, on_demand_step

if TYPE_CHECKING:
    from potluck.features.repo import FeatureRepo
    from potluck.features.resolve import ResolvedFeatures

__all__ = ["LateView", "key_columns", "key_names", "late_views"]


@dataclass
class LateView:
    step: OnDemandStep
    refs: list[str]  # the input features, as view:feature refs
    request: list[str]  # request fields the caller must give

    @property
    def outputs(self) -> list[str]:
        return self.step.outputs

    def apply(
        self,
        columns: Mapping[str, list[Any]],
        entities: Mapping[str, Sequence[Any]],
        join_keys: Sequence[str],
        found: Sequence[bool],
        expired: Mapping[str, set[int]],
    ) -> tuple[dict[str, list[Any]], set[int]]:
        """(output -> values, rows whose inputs expired)."""
        missing = [r for r in self.request if r not in entities]
        if missing:
            raise RequestError(
                f"on-demand view '{self.step.view.name}' needs request data: "
                f"give {', '.join(missing)} with each entity"
            )
        inputs = {ref.split(":", 1)[1] for ref in self.refs}
        data: dict[str, list[Any]] = {name: list(columns[name]) for name in inputs}
        data.update({name: list(entities[name]) for name in self.request})
        key = join_keys[0] if join_keys else next(iter(entities))
        keys = list(entities[key]) if key in entities else [str(i) for i in range(len(found))]
        values = self.step.apply(data, key, keys)
        gone = set().union(*(expired.get(name, set()) for name in inputs))
        blank = gone | {i for i, seen in enumerate(found) if not seen}
        if blank:
            values = {
                name: [None if i in blank else v for i, v in enumerate(column)]
                for name, column in values.items()
            }
        return values, gone


def _is_late(view: Any, windowed: set[str]) -> bool:
    sources = {p.name for p in view.source_feature_view_projections.values()}
    return bool(view.source_request_sources) or bool(sources & windowed)


def late_views(
    repo: FeatureRepo, resolved: ResolvedFeatures, windowed: set[str]
) -> dict[str, LateView]:
    """The late on-demand views among ``resolved``'s refs, by name (``windowed``: the
    names of every windowed view of the project)."""
    project = repo.config.project
    odfvs = {
        v.name: v
        for v in repo.store.registry.list_on_demand_feature_views(project, allow_cache=True)
    }
    wanted: dict[str, list[str]] = {}
    for ref in resolved.refs:
        view, _, name = ref.partition(":")
        if view in odfvs and _is_late(odfvs[view], windowed):
            wanted.setdefault(view, []).append(name)
    out = {}
    for name, outputs in wanted.items():
        odfv = odfvs[name]
        refs = [
            f"{p.name}:{f.name}"
            for p in odfv.source_feature_view_projections.values()
            for f in p.features
        ]
        request = [f.name for r in odfv.source_request_sources.values() for f in r.schema]
        step = None if request else on_demand_step(odfv, outputs)  # verified kernel if any
        if step is None:
            inputs = list(dict.fromkeys([*(r.split(":", 1)[1] for r in refs), *request]))
            step = OnDemandStep(view=odfv, inputs=inputs, outputs=outputs)
        out[name] = LateView(step=step, refs=list(dict.fromkeys(refs)), request=request)
    return out


def key_names(repo: FeatureRepo, refs: Sequence[str]) -> frozenset[str]:
    """The join keys of the views of ``refs``."""
    views = {r.split(":", 1)[0] for r in refs}
    names: set[str] = set()
    for view in repo.store.registry.list_feature_views(repo.config.project, allow_cache=True):
        if view.name in views:
            names.update(c.name for c in view.entity_columns)
    return frozenset(names)


def key_columns(
    repo: FeatureRepo,
    entities: Mapping[str, Sequence[Any]],
    refs: Sequence[str],
    names: frozenset[str] | None = None,
) -> Mapping[str, Sequence[Any]]:
    """The join-key columns of ``entities`` (request data left out); all when unsure.
    ``names``: :func:`key_names` of ``refs`` when the caller keeps them."""
    names = key_names(repo, refs) if names is None else names
    keys = {k: v for k, v in entities.items() if k in names}
    return keys or entities
