"""A resolved online read: which views, fields, decoders and on-demand steps serve a
feature service (or list of refs), worked out once and cached per repository.

Anything the fast path does not cover -- another online store, composite or
non-string join keys, aliased projections, on-demand views needing request
data -- resolves to ``None`` and the caller reads through Feast instead.
"""

from __future__ import annotations

import itertools
import struct
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from feast.value_type import ValueType

from potluck.online._odfv import OnDemandStep, on_demand_step
from potluck.online.stores import OnlineReader, ViewLayout, layout_of, open_reader

if TYPE_CHECKING:
    from potluck.features.repo import FeatureRepo
    from potluck.features.resolve import ResolvedFeatures

__all__ = ["ReadPlan", "decoder", "plan_for"]

_DOUBLE = struct.Struct("<d")
_MEMO_LIMIT = 1 << 13  # per feature: bounded, for servers that run for weeks
_MISSING = object()


class Decoder:
    """bytes -> the Python value Feast's ``to_dict`` gives, a column at a time, without a
    protobuf per value: doubles are unpacked from their 9 bytes; other values are parsed
    once per distinct byte string (flags, categories and counts repeat endlessly) and
    looked up after that."""

    def __init__(self, value_type: ValueType) -> None:
        self.double = value_type == ValueType.DOUBLE
        # lists, sets and maps are mutable: a fresh object per value, never shared
        name = value_type.name
        self.shared = not any(kind in name for kind in ("LIST", "SET", "MAP"))
        self.memo: dict[bytes | None, Any] = {None: None, b"": None}

    def _parse(self, blob: bytes) -> Any:
        from feast.protos.feast.types.Value_pb2 import Value
        from feast.type_map import feast_value_type_to_python_type

        if self.double and len(blob) == 9 and blob[0] == 0x29:
            return _DOUBLE.unpack_from(blob, 1)[0]
        return feast_value_type_to_python_type(Value.FromString(blob))

    def _other(self, blob: bytes | None) -> Any:
        return self._parse(blob) if blob else None

    def column(self, blobs: Sequence[bytes | None]) -> list[Any]:
        if self.double:  # mostly distinct: unpacked directly, not remembered
            unpack, other = _DOUBLE.unpack_from, self._other
            return [
                unpack(b, 1)[0] if b and len(b) == 9 and b[0] == 0x29 else other(b) for b in blobs
            ]
        if not self.shared:
            return [None if not b else self._parse(b) for b in blobs]
        memo = self.memo
        out = list(map(memo.get, blobs, itertools.repeat(_MISSING)))
        for i, value in enumerate(out):
            if value is _MISSING:
                blob = blobs[i]
                assert blob is not None
                if len(memo) >= _MEMO_LIMIT:
                    memo.clear()
                    memo.update({None: None, b"": None})
                memo[blob] = out[i] = self._parse(blob)
        return out


def decoder(value_type: ValueType) -> Decoder:
    return Decoder(value_type)


@dataclass
class ReadPlan:
    resolved: ResolvedFeatures
    reader: OnlineReader
    join_key: str
    join_key_type: ValueType
    views: list[tuple[ViewLayout, list[str]]]  # per view: the features to read
    outputs: list[str]  # output feature names, in request order
    # output name -> (view index, decoder) for view features
    sources: dict[str, tuple[int, Decoder]]
    hidden: dict[str, tuple[int, Decoder]]  # on-demand inputs that are not outputs
    on_demand: list[OnDemandStep]
    ttl: dict[str, float]  # output name -> TTL seconds
    found_views: list[int]  # views whose rows make ``_found`` true
    created: float = field(default_factory=time.monotonic)


_CACHE: weakref.WeakKeyDictionary[Any, dict[Any, Any]] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def _cache_key(features: str | Sequence[str]) -> Any:
    return features if isinstance(features, str) else tuple(features)


def plan_for(repo: FeatureRepo, features: str | Sequence[str]) -> ReadPlan | None:
    """The cached plan (rebuilt after the registry cache TTL), None for Feast's path."""
    key = _cache_key(features)
    entry = _CACHE.get(repo)
    if entry is not None:
        hit = entry["plans"].get(key)
        if hit is not None and time.monotonic() - hit[1] < entry["ttl"]:
            return hit[0]  # type: ignore[no-any-return]
    with _LOCK:
        entry = _CACHE.get(repo)
        if entry is None:
            ttl = float(getattr(repo.config.registry, "cache_ttl_seconds", 60) or 60)
            entry = {"reader": open_reader(repo.config), "plans": {}, "ttl": ttl}
            _CACHE[repo] = entry
        plan = _build(repo, features, entry["reader"]) if entry["reader"] is not None else None
        entry["plans"][key] = (plan, time.monotonic())
    return plan


def _build(
    repo: FeatureRepo, features: str | Sequence[str], reader: OnlineReader
) -> ReadPlan | None:
    resolved = repo.resolve(features)
    store, project = repo.store, repo.config.project
    views = {v.name: v for v in store.registry.list_feature_views(project, allow_cache=True)}
    odfvs = {
        v.name: v for v in store.registry.list_on_demand_feature_views(project, allow_cache=True)
    }
    # a service may rename views or map join keys: Feast's own rules then
    service = resolved.feast_argument if isinstance(features, str) else None
    projections = list(service.feature_view_projections) if service is not None else []
    if any(p.name_alias or p.join_key_map for p in projections):
        return None
    wanted: dict[str, list[str]] = {}  # view -> features, in first-seen order
    outputs: list[str] = []
    on_demand: dict[str, list[str]] = {}
    for ref in resolved.refs:
        view_name, _, name = ref.partition(":")
        if view_name in odfvs:
            on_demand.setdefault(view_name, []).append(name)
        else:
            wanted.setdefault(view_name, []).append(name)
        if name not in resolved.pii:
            outputs.append(name)
    if len(set(outputs)) != len(outputs):
        return None  # the same name from two views: Feast's own rules apply
    steps = []
    for name, names in on_demand.items():
        step = on_demand_step(odfvs[name], names)
        if step is None:
            return None
        steps.append(step)
        for projection in odfvs[name].source_feature_view_projections.values():
            if projection.name not in views:
                return None
            wanted.setdefault(projection.name, [])
            for f in projection.features:
                if f.name not in wanted[projection.name]:
                    wanted[projection.name].append(f.name)
    keys = {c.name: c.dtype.to_value_type() for v in wanted for c in views[v].entity_columns}
    if len(keys) != 1 or next(iter(keys.values())) not in (ValueType.STRING, ValueType.INT64):
        return None  # composite keys and other key types: Feast's own path
    layouts = [(layout_of(repo.config, views[v]), names) for v, names in wanted.items()]
    sources: dict[str, tuple[int, Decoder]] = {}
    hidden: dict[str, tuple[int, Decoder]] = {}
    ttl: dict[str, float] = {}
    found: set[int] = set()
    requested = {tuple(r.split(":", 1)) for r in resolved.refs if r.split(":", 1)[0] in views}
    for index, (layout, names) in enumerate(layouts):
        view = views[layout.name]
        for name in names:
            entry = (index, decoder(layout.features[name]))
            if (layout.name, name) in requested and name not in resolved.pii:
                sources[name] = entry
                found.add(index)
                if view.ttl and view.ttl.total_seconds() > 0:
                    ttl[name] = view.ttl.total_seconds()
            else:
                hidden[name] = entry
    return ReadPlan(
        resolved=resolved,
        reader=reader,
        join_key=next(iter(keys)),
        join_key_type=next(iter(keys.values())),
        views=layouts,
        outputs=outputs,
        sources=sources,
        hidden=hidden,
        on_demand=steps,
        ttl=ttl,
        found_views=sorted(found),
    )


def clear_cache() -> None:
    """Forget every plan (after an ``apply`` that changed services or views)."""
    with _LOCK:
        _CACHE.clear()
