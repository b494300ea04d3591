"""``potluck validate``: the deployment works end to end, or every reason it does not.

Steps, each timed and each failure recorded rather than raised, so one run lists
everything that is wrong:

1. every bound source is reachable and matches its declared schema (missing and
   extra columns, wrong types);
2. every feature view's fields and timestamp exist in its source with a type its
   Feast dtype accepts; every view, on-demand view and service resolves;
3. a historical retrieval of each service for sample entities returns one row per
   entity row; a feature null in most of those rows is a warning (``mostly_null``: its
   TTL is shorter than the data's age, or its source holds nothing for the keys);
4. an online read of each service for the same entities succeeds and finds them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from potluck.errors import PotluckError
from potluck.quality._data import feature_views, sample_entity_ids, view_source
from potluck.quality._report import Report
from potluck.quality.nulls import mostly_null

if TYPE_CHECKING:
    from feast import FeatureView

    from potluck.features.repo import FeatureRepo
    from potluck.settings import Settings

__all__ = ["declared_schemas", "schema_problems", "validate"]

# Feast dtype name -> predicate on the Arrow type a source holds for it.
_DTYPE_ACCEPTS: dict[str, Callable[[pa.DataType], bool]] = {
    "Int64": lambda t: pa.types.is_integer(t),
    "Int32": lambda t: pa.types.is_integer(t),
    "Float64": lambda t: pa.types.is_floating(t) or pa.types.is_integer(t),
    "Float32": lambda t: pa.types.is_floating(t) or pa.types.is_integer(t),
    "String": lambda t: pa.types.is_string(t) or pa.types.is_large_string(t),
    "Bool": lambda t: pa.types.is_boolean(t) or pa.types.is_integer(t),
    "UnixTimestamp": lambda t: pa.types.is_timestamp(t),
    "Bytes": lambda t: pa.types.is_binary(t) or pa.types.is_large_binary(t),
}


def declared_schemas(settings: Settings) -> dict[str, pa.Schema]:
    """The active deployment's data contract: logical source -> declared schema."""
    from potluck.deployment import active_deployment

    return {name: spec.schema for name, spec in active_deployment(settings).sources.items()}


def schema_problems(declared: pa.Schema, actual: pa.Schema) -> dict[str, list[str]]:
    """Missing columns, extra columns and ``name: declared != actual`` type mismatches."""
    have = {f.name: f.type for f in actual}
    want = {f.name: f.type for f in declared}
    return {
        "missing": [n for n in want if n not in have],
        "extra": [n for n in have if n not in want],
        "wrong_types": [
            f"{n}: declared {want[n]}, found {have[n]}"
            for n in want
            if n in have and not have[n].equals(want[n])
        ],
    }


class _Run:
    """Times steps into findings of a report; a failing step becomes a 'fail' finding."""

    def __init__(self, report: Report) -> None:
        self.report = report

    @contextmanager
    def step(self, check: str, subject: str) -> Iterator[dict[str, Any]]:
        outcome: dict[str, Any] = {"problems": [], "detail": "", "metrics": {}}
        started = time.perf_counter()
        try:
            yield outcome
        except PotluckError as exc:
            outcome["problems"].append(exc.message)
        except Exception as exc:  # a check reports; it never crashes on the thing it checks
            outcome["problems"].append(f"{type(exc).__name__}: {exc}")
        seconds = round(time.perf_counter() - started, 4)
        problems = outcome["problems"]
        self.report.add(
            check,
            subject,
            "fail" if problems else "pass",
            "; ".join(problems) if problems else outcome["detail"],
            seconds=seconds,
            **outcome["metrics"],
        )


def _check_sources(
    repo: FeatureRepo, run: _Run, declared: Mapping[str, pa.Schema]
) -> dict[tuple[str, str], pa.Schema]:
    """Each bound logical source's own table against its declared schema."""
    from potluck.offline.bindings import connector_for_name

    bindings = getattr(repo.config.offline_store, "sources", {})
    actual: dict[tuple[str, str], pa.Schema] = {}
    for logical in sorted(set(bindings) | set(declared)):
        with run.step("source", logical) as out:
            if logical not in bindings:
                out["problems"].append("declared but not bound to a connector in the profile")
                continue
            binding = bindings[logical]
            out["metrics"]["connector"] = binding.kind
            connector = connector_for_name(logical, binding)
            connector.ping()
            schema = connector.schema(logical)
            actual[(logical, logical)] = schema
            if logical not in declared:
                out["detail"] = f"reachable; no declared schema ({len(schema)} columns)"
                continue
            problems = schema_problems(declared[logical], schema)
            out["metrics"].update({k: v for k, v in problems.items() if v})
            for kind, items in problems.items():
                if items:
                    out["problems"].append(f"{kind.replace('_', ' ')}: {', '.join(items)}")
            out["detail"] = f"reachable, {len(schema)} columns match the declared schema"
    return actual


def _view_schema(
    repo: FeatureRepo, view: FeatureView, actual: dict[tuple[str, str], pa.Schema]
) -> pa.Schema | None:
    """The schema of the table a view reads (another table of a bound source is read here)."""
    from potluck.offline.bindings import connector_for

    src = view_source(view)
    key = (src.logical, src.table)
    if key not in actual:
        if src.table == src.logical:
            return None  # the source step already failed to read it
        actual[key] = connector_for(repo.config, src.source).schema(src.table)
    return actual[key]


def _check_fields(view: FeatureView, schema: pa.Schema) -> list[str]:
    src = view_source(view)
    types = {f.name: f.type for f in schema}
    reverse = {v: k for k, v in (src.source.field_mapping or {}).items()}
    problems = []
    needed = [src.timestamp_field, *src.join_keys]
    needed += [src.created_column] if src.created_column else []
    for name in needed:
        if reverse.get(name, name) not in types:
            problems.append(f"column '{name}' missing in '{src.logical}.{src.table}'")
    from potluck.windows.declare import window_features_of

    windows = window_features_of(view)
    if windows is not None:  # outputs are aggregations: their input columns must exist
        for feature in windows:
            for name in feature.columns:
                if reverse.get(name, name) not in types:
                    problems.append(
                        f"window feature '{feature.name}' reads column '{name}', "
                        f"missing in '{src.logical}.{src.table}'"
                    )
        return problems
    for field in view.features:
        column = reverse.get(field.name, field.name)
        dtype = str(field.dtype)
        if column not in types:
            problems.append(f"field '{field.name}' missing in '{src.logical}.{src.table}'")
        elif dtype in _DTYPE_ACCEPTS and not _DTYPE_ACCEPTS[dtype](types[column]):
            problems.append(
                f"field '{field.name}' is {dtype} but '{src.logical}.{src.table}' "
                f"holds {types[column]}"
            )
    return problems


def _check_definitions(
    repo: FeatureRepo, run: _Run, actual: dict[tuple[str, str], pa.Schema]
) -> None:
    store = repo.store
    for view in feature_views(repo):
        with run.step("feature_view", view.name) as out:
            src = view_source(view)
            repo.resolve([f"{view.name}:{f.name}" for f in view.features])
            schema = _view_schema(repo, view, actual)
            if schema is None:
                out["problems"].append(f"source '{src.logical}' could not be read")
                continue
            out["problems"].extend(_check_fields(view, schema))
            out["detail"] = f"{len(view.features)} fields resolvable from '{src.logical}'"
    project = store.project
    for odfv in store.registry.list_on_demand_feature_views(project, allow_cache=False):
        with run.step("on_demand_view", odfv.name) as out:
            repo.resolve([f"{odfv.name}:{f.name}" for f in odfv.features])
            out["detail"] = f"{len(odfv.features)} fields resolvable"
    for service in store.registry.list_feature_services(project, allow_cache=False):
        with run.step("feature_service", service.name) as out:
            resolved = repo.resolve(service.name)
            out["detail"] = f"{len(resolved.refs)} features resolvable"


def _typed_keys(repo: FeatureRepo, keys: list[str], ids: list[str]) -> dict[str, list[Any]]:
    """Sample ids as the key column, typed as the deployment's entity declares it (an
    integer key takes integers); the ids as they are when no entity declares that key."""
    from potluck.deployment import active_deployment
    from potluck.online.reads import entity_columns

    for entity in active_deployment(repo.settings).entities:
        if entity.key_names == keys:
            return entity_columns(entity, ids)
    return {keys[0]: list(ids)}


def _check_reads(repo: FeatureRepo, run: _Run, ids: list[str], at: datetime) -> None:
    import pandas as pd

    from potluck.features.retrieval import historical_features
    from potluck.online.reads import online_features

    project = repo.store.project
    services = [s.name for s in repo.store.registry.list_feature_services(project)]
    for name in services:
        with run.step("historical_retrieval", name) as out:
            keys = sorted(repo.resolve(name).join_keys)
            if len(keys) != 1:
                out["detail"] = f"keyed by {', '.join(keys) or 'nothing'}: not sampled"
                continue
            entity = pd.DataFrame(
                {**_typed_keys(repo, keys, ids), "event_timestamp": pd.Timestamp(at)}
            )
            table = historical_features(repo, entity, name)
            out["metrics"]["rows"] = table.num_rows
            if table.num_rows != len(ids):
                out["problems"].append(f"{table.num_rows} rows for {len(ids)} entity rows")
            out["detail"] = f"{table.num_rows} rows x {table.num_columns} columns"
            for warning in mostly_null(table, skip=keys):
                feature = warning.split("'")[1]
                run.report.add("mostly_null", f"{name}.{feature}", "warn", warning, seconds=0.0)
        with run.step("online_read", name) as out:
            rows = online_features(repo, name, _typed_keys(repo, keys, ids), now=at)
            found = sum(1 for r in rows if r.get("_found"))
            out["metrics"].update(rows=len(rows), found=found)
            if found == 0:
                out["problems"].append(
                    f"none of {len(ids)} sample entities found online (run `potluck materialize`)"
                )
            out["detail"] = f"{found}/{len(ids)} sample entities found"


def validate(
    repo: FeatureRepo,
    *,
    sample: int = 20,
    seed: int = 0,
    at: datetime | None = None,
    declared: Mapping[str, pa.Schema] | None = None,
) -> Report:
    """Run every validation step; failures are findings, never exceptions."""
    started = time.perf_counter()
    at = at or datetime.now(UTC)
    report = Report("validate", "potluck validate", columns=["seconds", "connector", "rows"])
    run = _Run(report)
    actual = _check_sources(
        repo, run, declared if declared is not None else declared_schemas(repo.settings)
    )
    _check_definitions(repo, run, actual)
    ids: list[str] = []
    with run.step("sample_entities", "entities") as out:
        ids = sample_entity_ids(repo, sample, seed)
        out["metrics"]["rows"] = len(ids)
        if not ids:
            out["problems"].append("no entity ids found in any readable source")
        out["detail"] = ", ".join(ids[:5]) + (" ..." if len(ids) > 5 else "")
    if ids:
        _check_reads(repo, run, ids, at)
    report.summary = {
        "checks": len(report.findings),
        "failures": len(report.failures),
        "sample_entities": len(ids),
        "at": at.isoformat(),
        "seconds": round(time.perf_counter() - started, 3),
    }
    return report
