"""Shared pieces of the benchmarks: data on disk, the three feature stores, child runs.

* :func:`write_dataset` generates the healthcare sources and the engineered tables and
  writes each as ``{dir}/{table}.parquet`` with microsecond UTC timestamps.
* :func:`repo_configs` / :func:`apply_repo`: one Feast repository per engine over the
  same files -- ``potluck`` (the federated store), ``feast`` (Feast's DuckDB store) and
  ``feast_dask`` (Feast's file store) -- the last two with ``FileSource`` copies of the
  healthcare views, on-demand view and services.
* :func:`run_child` runs a function in a fresh ``spawn`` process under a time budget
  (killed on timeout), so peak RSS (``ru_maxrss``) belongs to one engine and one size.
* :func:`compare` checks two results value for value, matched on a row-id column.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import platform
import queue
import warnings
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

AS_OF = datetime(2026, 11, 25, tzinfo=UTC)
WINDOW = timedelta(days=730)  # every synthetic event lies in [AS_OF - WINDOW, AS_OF]
ROW_ID = "row_id"
ENGINES = ("potluck", "feast", "feast_dask")
LABELS = {"potluck": "potluck", "feast": "Feast DuckDB", "feast_dask": "Feast file/dask"}
POTLUCK_STORE = "potluck.offline.store.FederatedOfflineStore"


def quiet() -> None:
    """Silence per-call warnings (experimental ODFVs, deprecations, DuckDB hints).

    Imports Feast first: its modules install ``simplefilter("once", ...)`` at import,
    which would take precedence over filters installed before them."""
    import feast  # noqa: F401

    for category in (DeprecationWarning, FutureWarning):
        warnings.filterwarnings("ignore", category=category)
    warnings.filterwarnings("ignore", message="On demand feature view is an experimental")
    warnings.filterwarnings("ignore", message="Arrow output on a DB-API result")


# --------------------------------------------------------------------------- data
def write_dataset(root: Path, patients: int, seed: int = 42, as_of: datetime = AS_OF) -> dict:
    """Generate sources + engineered tables; write ``{root}/{name}.parquet``; name -> rows."""
    from potluck.domains.healthcare.deployment import engineer as compute
    from potluck.domains.healthcare.deployment import snapshots as snapshot_times
    from potluck.domains.healthcare.synth import generate

    tables = generate(patients, seed, as_of)
    tables.update(compute(tables, snapshot_times(tables["stroke_outcomes"], as_of)))
    root.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        pq.write_table(table, root / f"{name}.parquet", coerce_timestamps="us")
    return {name: table.num_rows for name, table in tables.items()}


def entity_frame(
    patient_ids: pa.Array, rows: int, seed: int = 7, as_of: datetime = AS_OF
) -> pd.DataFrame:
    """``row_id``, ``patient_id`` (sampled with replacement), ``event_timestamp`` uniform
    over the data window (µs resolution, ``datetime64[ns, UTC]`` as most callers pass)."""
    rng = np.random.default_rng(seed)
    end = (as_of - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    span = WINDOW // timedelta(microseconds=1)
    micros = end - rng.integers(0, span, rows)
    return pd.DataFrame(
        {
            ROW_ID: np.arange(rows, dtype=np.int64),
            "patient_id": patient_ids.take(rng.integers(0, len(patient_ids), rows)).to_pandas(),
            "event_timestamp": pd.to_datetime(micros, unit="us", utc=True).astype(
                "datetime64[ns, UTC]"
            ),
        }
    )


# --------------------------------------------------------------------------- stores
def repo_configs(base: Path, data: Path, sources: list[str]) -> dict[str, dict[str, Any]]:
    """engine -> RepoConfig keyword arguments (plain data, so it crosses processes)."""
    stores: dict[str, dict[str, Any]] = {
        "potluck": {
            "type": POTLUCK_STORE,
            "sources": {s: {"kind": "parquet", "options": {"root": str(data)}} for s in sources},
        },
        "feast": {"type": "duckdb"},
        "feast_dask": {"type": "file"},
    }
    configs = {}
    for engine, offline in stores.items():
        repo = base / engine
        repo.mkdir(parents=True, exist_ok=True)
        configs[engine] = {
            "project": "bench",
            "provider": "local",
            "registry": str(repo / "registry.db"),
            "offline_store": offline,
            "online_store": {"type": "sqlite", "path": str(repo / "online.db")},
            "entity_key_serialization_version": 3,
            "repo_path": str(repo),
        }
    return configs


def file_source_objects(data: Path) -> list[Any]:
    """The healthcare entity, views, on-demand view and services over ``FileSource``s."""
    from feast import FeatureService, FeatureView, Field, FileSource
    from feast.on_demand_feature_view import OnDemandFeatureView
    from feast.types import String

    from potluck.domains.healthcare import features as hc

    key = Field(name="patient_id", dtype=String)
    views = {}
    for view in hc.FEATURE_VIEWS:
        src = view.batch_source
        views[view.name] = FeatureView(
            name=view.name,
            entities=[hc.patient],
            ttl=view.ttl,
            schema=[key, *view.features],
            source=FileSource(
                name=src.name,
                path=str(data / f"{src.table}.parquet"),
                timestamp_field=src.timestamp_field,
            ),
            online=view.online,
            description=view.description,
            tags=view.tags,
            owner=view.owner,
        )
    odfv = hc.request_time_features
    projections = [
        views[p.name][[f.name for f in p.features]]
        for p in odfv.source_feature_view_projections.values()
    ]
    # Same transformation object (same UDF and source text), sources rebuilt as projections
    # of the FileSource views. (Re-decorating the UDF would not do: Feast's decorator sets
    # its __module__ to "__main__", so its source text cannot be found again.)
    views[odfv.name] = OnDemandFeatureView(
        name=odfv.name,
        sources=projections,
        schema=odfv.features,
        feature_transformation=odfv.feature_transformation,
        mode=odfv.mode,
        description=odfv.description,
        owner=odfv.owner,
    )
    services = [
        FeatureService(
            name=service.name,
            features=[
                views[p.name][[f.name for f in p.features]]
                for p in service.feature_view_projections
            ],
            description=service.description,
            owner=service.owner,
        )
        for service in hc.FEATURE_SERVICES
    ]
    return [hc.patient, *views.values(), *services]


def apply_repo(config: Mapping[str, Any], objects: list[Any]) -> None:
    from feast import FeatureStore, RepoConfig

    FeatureStore(config=RepoConfig(**config)).apply(objects)


# --------------------------------------------------------------------------- machine
def refuse(console: Any, headline: str, problems: Sequence[str]) -> int:
    """Print why no figures are reported (the headline, the first 20 problems); exit code 1."""
    console.print(f"[bold red]{headline}:[/]")
    for problem in problems[:20]:
        console.print(f"  {problem}")
    return 1


def machine_meta(load_start: tuple[float, float, float], *packages: str) -> dict[str, Any]:
    """What every benchmark's ``meta`` records about the run: cores, platform, Python,
    the versions of ``packages`` and the load averages at start and end."""
    from importlib.metadata import version

    return {
        "cpu_count": os.cpu_count(),
        "machine": platform.platform(),
        "python": platform.python_version(),
        "versions": {name: version(name) for name in packages},
        "loadavg_1_5_15": {"start": load_start, "end": os.getloadavg()},
    }


# --------------------------------------------------------------------------- processes
def _status_mb(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB
    raise RuntimeError(f"{field} not in /proc/self/status")


def peak_rss_mb() -> float:
    """Peak RSS of this process since exec or the last :func:`reset_peak_rss` (``VmHWM``).

    Not ``ru_maxrss``: Linux carries the parent's high-water mark across fork + exec into
    it, so a spawned child would report at least its parent's peak."""
    return _status_mb("VmHWM")


def reset_peak_rss() -> bool:
    """Reset ``VmHWM`` to the current RSS (Linux >= 4.0); False if not permitted."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
        return True
    except OSError:
        return False


def current_rss_mb() -> float:
    return _status_mb("VmRSS")


def _child(target: Callable[..., dict], kwargs: dict, out: mp.Queue) -> None:
    quiet()
    try:
        out.put(("ok", target(**kwargs)))
    except BaseException as exc:  # reported to the parent, which decides
        import traceback

        out.put(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))


def run_child(target: Callable[..., dict], kwargs: dict, timeout: float) -> dict:
    """``target(**kwargs)`` in a fresh spawned process; ``{"status": ok|timeout|error, ...}``."""
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(target, kwargs, out), daemon=True)
    proc.start()
    try:
        status, payload = out.get(timeout=timeout)
    except queue.Empty:
        proc.kill()
        proc.join()
        return {"status": "timeout"}
    proc.join(timeout=30)
    if proc.is_alive():
        proc.kill()
        proc.join()
    if status == "ok":
        return {"status": "ok", **payload}
    return {"status": "error", "error": payload}


# --------------------------------------------------------------------------- equality
def _column_diff(left: pa.ChunkedArray, right: pa.ChunkedArray) -> np.ndarray:
    """Boolean mask of rows whose values differ (nulls/NaN equal, floats within 1e-9)."""
    if pa.types.is_timestamp(left.type) or pa.types.is_timestamp(right.type):
        left, right = (
            pc.cast(c.cast(pa.timestamp("us", "UTC"), safe=False), pa.int64())
            for c in (left, right)
        )
    numeric = (pa.types.is_integer, pa.types.is_floating, pa.types.is_boolean)
    if any(f(left.type) for f in numeric) and any(f(right.type) for f in numeric):
        a = left.cast(pa.float64()).to_numpy(zero_copy_only=False)
        b = right.cast(pa.float64()).to_numpy(zero_copy_only=False)
        return ~np.isclose(a, b, rtol=1e-9, atol=1e-9, equal_nan=True)
    a = np.asarray(left.to_pandas(), dtype=object)
    b = np.asarray(right.to_pandas(), dtype=object)
    a_null, b_null = pd.isna(a), pd.isna(b)
    both = ~a_null & ~b_null
    out = a_null != b_null
    out[both] = a[both] != b[both]
    return out


def compare(expected: pa.Table, actual: pa.Table, *, allow_missing_rows: bool) -> dict:
    """Match rows on ``ROW_ID``; compare every column of ``expected`` value for value.

    Returns ``rows``, ``missing_rows``, ``compared_rows`` and ``problems`` (a list of
    human-readable differences, empty when the tables agree)."""
    problems: list[str] = []
    ids = actual[ROW_ID].to_numpy()
    if len(np.unique(ids)) != len(ids):
        problems.append(f"{len(ids) - len(np.unique(ids))} duplicated {ROW_ID}s")
    expected = expected.sort_by(ROW_ID)
    actual = actual.sort_by(ROW_ID)
    keep = pc.is_in(expected[ROW_ID], value_set=actual[ROW_ID])
    missing = expected.num_rows - int(pc.sum(keep).as_py() or 0)
    if missing and not allow_missing_rows:
        problems.append(f"{missing} entity rows missing")
    extra = actual.num_rows - (expected.num_rows - missing)
    if extra > 0:
        problems.append(f"{extra} rows not in the entity frame")
    absent = sorted(set(expected.column_names) - set(actual.column_names))
    added = sorted(set(actual.column_names) - set(expected.column_names))
    if absent or added:
        problems.append(f"columns differ: missing {absent}, unexpected {added}")
    expected = expected.filter(keep)
    if not problems:
        for name in expected.column_names:
            diff = _column_diff(expected[name], actual[name])
            if diff.any():
                rows = np.flatnonzero(diff)[:5]
                samples = [
                    f"{ROW_ID}={expected[ROW_ID][int(r)].as_py()}: "
                    f"{expected[name][int(r)].as_py()!r} != {actual[name][int(r)].as_py()!r}"
                    for r in rows
                ]
                problems.append(f"{name}: {int(diff.sum())} values differ ({'; '.join(samples)})")
    return {
        "rows": actual.num_rows,
        "missing_rows": missing,
        "compared_rows": expected.num_rows,
        "problems": problems,
    }
