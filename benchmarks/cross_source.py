"""Cross-source training set on the services profile: potluck beside plain Feast, same run.

    .venv/bin/python benchmarks/cross_source.py [--patients 20000] [--rows 100000]
        [--repeat 3] [--timeout 300] [--json-out FILE]

A PostgreSQL 15 server and moto's S3 server are started for the run (``potluck.devservices``,
in a temporary folder, stopped after). The deployment runs on the **services profile**:
clinical_measurements in PostgreSQL; patient_demographics and hospital_administration in
PostgreSQL too (MongoDB and SQL Server cannot be installed here, so they are rebound exactly as
``potluck services up`` rebinds them); lifestyle_data and stroke_outcomes as Parquet in S3; the
engineered views computed by the profile's engineering engine (``auto``: Spark) and written to
S3; Feast's SQL registry in PostgreSQL. The online store is SQLite: a historical retrieval
never touches it, so no Redis is started. Steps: ``seed`` -> ``apply`` -> ``engineer`` (in a
child process, so Spark's JVM is gone before anything is measured), then a ``stroke_risk_full``
training set for an entity frame of ``--rows`` rows (``_common.entity_frame``).

**potluck**: ``potluck.features.retrieval.historical_features(repo, entity, "stroke_risk_full")``
(the service the CLI and API use: PII dropped) -- six views pulled from PostgreSQL and S3 with
keys and time window pushed down, one point-in-time join, the on-demand view.
**Plain Feast cannot run this retrieval**: it routes a retrieval to one offline store, its
PostgreSQL store reads only PostgreSQL and its hybrid store wants one source type for every
view. So plain Feast is measured on the *same rows* -- read back from PostgreSQL and S3 and
written as local Parquet -- with its DuckDB offline store (``FileSource`` views, the fastest
plain-Feast store in ``historical.py``): ``get_historical_features(...).to_arrow()``. It reads
local files with no network hop, which favours it.

Each side runs in a fresh spawned process: one untimed warm-up (its result kept for the
equality check), then ``--repeat`` timed runs (best and median); peak RSS is the child's
``VmHWM`` reset just before the warm-up (so it includes the baseline of Python, Feast and the
entity frame, shown as "base"). The per-source pull times are the DEBUG records of
``potluck.offline.pull`` during potluck's best run: each view's connector read, pushdown
included (the rest of the time is the join, the on-demand view and Feast's own work).
Before any timing is printed the two results are compared value for value, row by row
(matched on ``row_id``), over every column potluck returns; Feast's result has one more
column, ``date_of_birth`` (the PII input of the on-demand view, which Feast adds to the output
and potluck's retrieval service drops), and it is left out of the comparison.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

import _common as c

SERVICE = "stroke_risk_full"
SIDES = ("potluck", "feast")
LABELS = {
    "potluck": "potluck, services profile (PostgreSQL + S3)",
    "feast": "plain Feast DuckDB store (same rows, local Parquet)",
}
console = Console(width=None if sys.stdout.isatty() else 150)


# --------------------------------------------------------------------------- settings
def settings_kwargs(work: Path, pg_port: int, s3_port: int) -> dict[str, Any]:
    """Plain data (it crosses into child processes) for ``Settings(**kwargs)``."""
    from potluck.cli.services import FALLBACKS

    return {
        "profile": "services",
        "home": str(work / "home"),
        "project": "bench_cross",
        "online_store": "sqlite",  # retrieval never reads it: no Redis needed
        "engineering_engine": "auto",  # Spark, on the services profile
        "postgres": {"port": pg_port, "database": "potluck", "sslmode": "disable"},
        "s3": {
            "endpoint_url": f"http://127.0.0.1:{s3_port}",
            "bucket": "bench-cross",
            "access_key": "bench",
            "secret_key": "bench",
        },
        "sources": {source: {"kind": kind} for source, kind in FALLBACKS.items()},
    }


# --------------------------------------------------------------------------- children
def _engineer(settings: dict[str, Any]) -> dict[str, Any]:
    """Runs in a child: the profile's engineering engine (Spark), output written to S3."""
    from potluck.settings import Settings
    from potluck.workflows.data import engineer_features

    started = time.perf_counter()
    run = engineer_features(Settings(**settings))
    return {
        "engine": run.engine,
        "rows": run.rows,
        "compute_s": run.compute_s,
        "total_s": round(time.perf_counter() - started, 2),
    }


class _Pulls(logging.Handler):
    """Collects the ``pull`` figures of ``potluck.offline.pull``'s DEBUG records."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.pulls: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        pull = getattr(record, "pull", None)
        if pull is not None:
            self.pulls.append(dict(pull))


def _runs(run: Any, out_path: str, repeat: int, budget: float, started: float) -> dict[str, Any]:
    """Warm-up (result written for the equality check), then timed runs within the budget."""
    import pyarrow.feather as feather

    table, cold = run()
    feather.write_feather(table, out_path, compression="uncompressed")
    stats: dict[str, Any] = {"cold_s": cold, "rows": table.num_rows, "times": []}
    del table
    for _ in range(repeat):  # stop early rather than overrun the time budget
        last = stats["times"][-1] if stats["times"] else cold
        if time.perf_counter() - started + last > budget:
            break
        table, seconds = run()
        stats["times"].append(seconds)
        del table
    stats["peak_rss_mb"] = c.peak_rss_mb()
    return stats


def _measure_potluck(
    settings: dict[str, Any], entity_path: str, out_path: str, repeat: int, budget: float
) -> dict[str, Any]:
    started = time.perf_counter()
    import pandas as pd

    from potluck.features.repo import FeatureRepo
    from potluck.features.retrieval import historical_features
    from potluck.settings import Settings

    repo = FeatureRepo(Settings(**settings))
    repo.store  # noqa: B018 - opened before the baseline, as Feast's side opens its store
    entity = pd.read_parquet(entity_path)
    recorder = _Pulls()
    pull_log = logging.getLogger("potluck.offline.pull")
    pull_log.addHandler(recorder)
    pull_log.setLevel(logging.DEBUG)
    pulls: list[list[dict[str, Any]]] = []

    def run() -> tuple[Any, float]:
        recorder.pulls = []
        t0 = time.perf_counter()
        table = historical_features(repo, entity.copy(), SERVICE)
        seconds = time.perf_counter() - t0
        pulls.append(recorder.pulls)
        return table, seconds

    report: dict[str, Any] = {"base_rss_mb": c.current_rss_mb(), "reset": c.reset_peak_rss()}
    report |= _runs(run, out_path, repeat, budget, started)
    times = report["times"] or [report["cold_s"]]
    # pulls[0] is the warm-up's; pulls[i + 1] belongs to times[i]
    report["pulls"] = pulls[times.index(min(times)) + 1] if report["times"] else pulls[0]
    return report


def _measure_feast(
    config: dict[str, Any], entity_path: str, out_path: str, repeat: int, budget: float
) -> dict[str, Any]:
    started = time.perf_counter()
    import pandas as pd
    from feast import FeatureStore, RepoConfig

    store = FeatureStore(config=RepoConfig(**config))
    service = store.get_feature_service(SERVICE)
    entity = pd.read_parquet(entity_path)

    def run() -> tuple[Any, float]:
        frame = entity.copy()  # stores may modify the frame they are given
        t0 = time.perf_counter()
        table = store.get_historical_features(entity_df=frame, features=service).to_arrow()
        return table, time.perf_counter() - t0

    report: dict[str, Any] = {"base_rss_mb": c.current_rss_mb(), "reset": c.reset_peak_rss()}
    return report | _runs(run, out_path, repeat, budget, started)


# --------------------------------------------------------------------------- set-up
def prepare(work: Path, settings: dict[str, Any], patients: int, rows: int) -> dict[str, Any]:
    """Seed + apply + engineer on the services profile; the same rows as local Parquet and a
    Feast DuckDB repo over them; the entity frame. Returns what the run needs."""
    import pyarrow.parquet as pq

    from potluck.domains.healthcare.deployment import DEPLOYMENT
    from potluck.features.repo import FeatureRepo
    from potluck.profiles import create_database

    LOGICAL_SOURCES = DEPLOYMENT.loaded_sources
    ENGINEERED_SOURCES = DEPLOYMENT.engineered_sources
    from potluck.settings import Settings
    from potluck.workflows.data import read_source_table, seed

    timings: dict[str, float] = {}
    services = Settings(**settings)
    create_database(services, services.postgres.database)
    t0 = time.perf_counter()
    with console.status(f"seeding {patients:,} patients into PostgreSQL and S3 ..."):
        source_rows = seed(services, size=patients, seed=42, as_of=c.AS_OF)
    timings["seed_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    with console.status("applying the repository (Feast SQL registry in PostgreSQL) ..."):
        FeatureRepo(services).apply()
    timings["apply_s"] = time.perf_counter() - t0
    with console.status("engineering (services profile: the Spark engine) ..."):
        engineered = c.run_child(_engineer, {"settings": settings}, timeout=600)
    if engineered["status"] != "ok":
        raise SystemExit(f"engineer failed: {engineered}")
    timings["engineer_s"] = engineered["total_s"]

    # The same rows for plain Feast, as it can read them: local Parquet files.
    data = work / "feast_data"
    data.mkdir()
    t0 = time.perf_counter()
    with console.status("reading every table back from PostgreSQL/S3 into local Parquet ..."):
        for name in (*LOGICAL_SOURCES, *ENGINEERED_SOURCES):
            table = read_source_table(services, name)
            source_rows[name] = table.num_rows
            pq.write_table(table, data / f"{name}.parquet", coerce_timestamps="us")
    timings["copy_to_parquet_s"] = time.perf_counter() - t0
    feast_config = c.repo_configs(work / "feast_repo", data, sorted(source_rows))["feast"]
    c.apply_repo(feast_config, c.file_source_objects(data))
    ids = pq.read_table(data / "patient_demographics.parquet", columns=["patient_id"])
    entity_path = work / "entity.parquet"
    c.entity_frame(ids["patient_id"].combine_chunks(), rows).to_parquet(entity_path)
    from potluck.profiles import source_bindings

    kinds = {name: b["kind"] for name, b in source_bindings(services).items()}
    return {
        "feast_config": feast_config,
        "entity_path": str(entity_path),
        "source_rows": source_rows,
        "bindings": kinds,
        "engineering": {k: engineered[k] for k in ("engine", "compute_s", "total_s")},
        "setup_s": {k: round(v, 2) for k, v in timings.items()},
    }


def measure_both(args: argparse.Namespace, settings: dict, prep: dict, out: Path) -> dict:
    """side -> child report; each side in a fresh process, potluck first."""
    children = {
        "potluck": (_measure_potluck, {"settings": settings}),
        "feast": (_measure_feast, {"config": prep["feast_config"]}),
    }
    results = {}
    for side, (target, own) in children.items():
        kwargs = {
            **own,
            "entity_path": prep["entity_path"],
            "out_path": str(out / f"{side}.arrow"),
            "repeat": args.repeat,
            "budget": args.timeout,
        }
        with console.status(f"{LABELS[side]}: {args.rows:,} entity rows ..."):
            t0 = time.perf_counter()
            report = c.run_child(target, kwargs, timeout=args.timeout + 60)
        console.log(f"{LABELS[side]}: {report['status']} ({time.perf_counter() - t0:.0f} s)")
        if report["status"] != "ok":
            raise SystemExit(f"{side} failed: {report.get('error', report['status'])}")
        results[side] = report
    return results


def check(results: dict, out: Path, rows: int) -> tuple[list[str], dict[str, Any]]:
    """potluck's rows are the entity frame's, in order; Feast's equal them value for value."""
    import numpy as np
    import pyarrow.feather as feather

    from potluck.domains.healthcare.features import FEATURE_VIEWS

    ours = feather.read_table(out / "potluck.arrow")
    theirs = feather.read_table(out / "feast.arrow")
    problems = []
    if ours.num_rows != rows or not np.array_equal(ours[c.ROW_ID].to_numpy(), np.arange(rows)):
        problems.append("potluck: rows are not the entity frame's, in order")
    pii = {f.name for v in FEATURE_VIEWS for f in v.features if f.tags.get("pii") == "true"}
    left_out = sorted(set(theirs.column_names) - set(ours.column_names))
    unexpected = [name for name in left_out if name not in pii]
    if unexpected:
        problems.append(f"Feast returned non-PII columns potluck did not: {unexpected}")
    diff = c.compare(ours, theirs.drop_columns(left_out), allow_missing_rows=False)
    problems += [f"Feast vs potluck: {p}" for p in diff["problems"]]
    return problems, {
        "rows": ours.num_rows,
        "columns_compared": ours.num_columns,
        "rows_compared": diff["compared_rows"],
        "feast_columns_left_out": left_out,
    }


# --------------------------------------------------------------------------- report
def summarize(results: dict) -> dict[str, dict[str, Any]]:
    """side -> figures; both sides get the same keys."""
    out = {}
    for side in SIDES:
        r = results[side]
        times = r["times"] or [r["cold_s"]]
        out[side] = {
            "seconds": round(min(times), 4),
            "median_s": round(statistics.median(times), 4),
            "cold_s": round(r["cold_s"], 4),
            "repeats": len(r["times"]),
            "peak_rss_mb": round(r["peak_rss_mb"], 1),
            "base_rss_mb": round(r["base_rss_mb"], 1),
            "rows": r["rows"],
        }
    return out


def sources_of(results: dict) -> dict[str, dict[str, Any]]:
    return {
        p["view"]: {
            "source": p["source"],
            "kind": p["kind"],
            "rows": p["rows"],
            "seconds": round(p["seconds"], 4),
        }
        for p in results["potluck"]["pulls"]
    }


def print_tables(summary: dict, sources: dict, meta: dict) -> None:
    timing = Table(
        title=f"{SERVICE} training set, {meta['rows']:,} entity rows, {meta['patients']:,} "
        f"patients — warm, best of {meta['repeat']} — {meta['cpu_count']} cores. Plain Feast "
        "cannot join PostgreSQL + S3 views in one retrieval: it is measured on the same rows "
        "as local Parquet (DuckDB store)"
    )
    for col in ("", "best s", "median s", "first call s", "entity rows/s", "peak RSS MB (base)"):
        timing.add_column(col, justify="right")
    for side in SIDES:
        s = summary[side]
        timing.add_row(
            LABELS[side],
            f"{s['seconds']:.3f}",
            f"{s['median_s']:.3f}",
            f"{s['cold_s']:.3f}",
            f"{meta['rows'] / s['seconds']:,.0f}",
            f"{s['peak_rss_mb']:,.0f} ({s['base_rss_mb']:,.0f})",
        )
    console.print(timing)
    pulls = Table(title="potluck: per-source pulls during its best run (keys + window pushed)")
    for col in ("view", "logical source", "connector", "rows pulled", "seconds", "share"):
        pulls.add_column(col, justify="right")
    total = summary["potluck"]["seconds"]
    for view, p in sources.items():
        share = f"{p['seconds'] / total:.0%}"
        pulls.add_row(view, p["source"], p["kind"], f"{p['rows']:,}", f"{p['seconds']:.3f}", share)
    pulled = sum(p["seconds"] for p in sources.values())
    pulls.add_section()
    pulls.add_row("all pulls", "", "", "", f"{pulled:.3f}", f"{pulled / total:.0%}")
    rest = total - pulled
    pulls.add_row("join + on-demand + Feast", "", "", "", f"{rest:.3f}", f"{rest / total:.0%}")
    console.print(pulls)
    eq = meta["equality"]
    console.print(
        f"Results equal value for value: {eq['rows_compared']:,} rows x "
        f"{eq['columns_compared']} columns (Feast's extra PII column(s) "
        f"{', '.join(eq['feast_columns_left_out']) or 'none'} left out). Engineered views: "
        f"{meta['engineering']['engine']} engine, {meta['engineering']['compute_s']:.1f} s. "
        "Peak RSS: VmHWM of each fresh child from just before its warm-up (base in brackets)."
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--patients", type=int, default=20_000)
    parser.add_argument("--rows", type=int, default=100_000, help="entity rows")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per side")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    c.quiet()
    load_start = os.getloadavg()
    started = time.perf_counter()

    from potluck import devservices

    work = Path(tempfile.mkdtemp(prefix="potluck-bench-cross-"))
    servers = []
    try:
        with console.status("starting PostgreSQL 15 and moto S3 ..."):
            servers.append(devservices.start_postgres(work / "pg", devservices.free_port()))
            servers.append(devservices.start_moto(work / "moto", devservices.free_port()))
        settings = settings_kwargs(work, servers[0].port, servers[1].port)
        prep = prepare(work, settings, args.patients, args.rows)
        out = work / "results"
        out.mkdir()
        results = measure_both(args, settings, prep, out)
        problems, equality = check(results, out, args.rows)
    finally:
        for server in reversed(servers):
            devservices.stop(server)
        shutil.rmtree(work, ignore_errors=True)
    if problems:
        return c.refuse(console, "results differ; no timings reported", problems)

    summary = summarize(results)
    sources = sources_of(results)
    meta = {
        **c.machine_meta(load_start, "feast", "duckdb", "pyarrow", "pyspark"),
        "patients": args.patients,
        "rows": args.rows,
        "repeat": args.repeat,
        "service": SERVICE,
        "profile": "services",
        "bindings": prep["bindings"],
        "source_rows": prep["source_rows"],
        "engineering": prep["engineering"],
        "setup_s": prep["setup_s"],
        "wall_s": round(time.perf_counter() - started, 1),
        "timing": "wall seconds of one stroke_risk_full retrieval, warm (best of repeat)",
        "peak_rss": "VmHWM of a fresh child process, reset after start-up (base_rss_mb)",
        "feast_side": "plain Feast cannot join PostgreSQL + S3 views in one call: measured "
        "on the same rows written as local Parquet, DuckDB offline store",
        "sources_note": "per-view connector reads (pushdown included) during potluck's best run",
        "equality": equality,
    }
    print_tables(summary, sources, meta)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        report = {**summary, "sources": sources, "meta": meta}
        args.json_out.write_text(json.dumps(report, indent=2) + "\n")
        console.print(f"wrote {args.json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
