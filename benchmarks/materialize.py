"""Materialization: potluck's writer beside Feast's ``FeatureStore.materialize``, same data, same run.

    .venv/bin/python benchmarks/materialize.py [--patients 100000] [--stores sqlite,redis]
        [--sources parquet|embedded] [--timeout 1800] [--home DIR] [--json-out FILE]

The healthcare deployment is seeded, applied and engineered once into a potluck home;
``--home`` keeps it for the next run. ``--sources parquet`` (default) binds every logical
source to Parquet files, so the figures are about the writers; ``embedded`` keeps the
embedded profile's SQLite and JSON-lines sources (their connectors read whole tables into
Python objects or parse whole files, which then dominates time and memory for both
engines). For every online store (SQLite file; Redis started with ``potluck.devservices``)
and engine, a copy of the home is materialized over the same window (1970 -> the data's
anchor) in a fresh spawned process, so peak RSS (``VmHWM`` since exec: interpreter, Feast
and data included) belongs to one engine:

* ``potluck``: ``potluck.online.materialize.materialize`` (chunked, vectorized);
* ``feast``: ``FeatureStore.materialize`` (Feast's local compute engine), reading through
  the same federated offline store, so both read the same sources the same way.

Both stores are then checked equal row for row (SQLite: ``EXCEPT`` both ways per table;
Redis: every hash) before any figure is printed. Rows are entity rows (the latest row per
entity per view, what Feast's progress bar counts); timings are wall-clock on a shared
machine (load averages are in ``meta``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

import _common as c

console = Console(width=None if sys.stdout.isatty() else 150)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ENGINES = ("potluck", "feast")
REDIS_DB = {"potluck": 1, "feast": 2}


# --------------------------------------------------------------------------- setup
def base_settings(home: Path, sources: str) -> Any:
    from potluck.domains.healthcare.deployment import DEPLOYMENT

    LOGICAL_SOURCES = DEPLOYMENT.loaded_sources
    from potluck.settings import Settings, SourceOverride

    if sources == "embedded":
        return Settings(home=home)
    overrides = {name: SourceOverride(kind="parquet") for name in LOGICAL_SOURCES}
    return Settings(home=home, sources=overrides)


def prepare(home: Path, patients: int, sources: str) -> dict[str, Any]:
    """Seed + apply + engineer into ``home`` unless it already holds the same data."""
    from potluck.features.repo import FeatureRepo
    from potluck.workflows import data
    from potluck.workflows.state import load_state

    settings = base_settings(home, sources)
    marker = home / "bench.json"
    if marker.exists():
        known = json.loads(marker.read_text())
        if known.get("patients") == patients and known.get("sources") == sources:
            return known  # type: ignore[no-any-return]
    shutil.rmtree(home, ignore_errors=True)
    t0 = time.perf_counter()
    sources = data.seed(settings, size=patients, seed=42, as_of=c.AS_OF)
    FeatureRepo(settings).apply()
    sources.update(data.engineer(settings))
    info = {
        "patients": patients,
        "sources": sources,
        "as_of": load_state(settings).as_of.isoformat(),
        "source_rows": sources,
        "prepare_s": round(time.perf_counter() - t0, 1),
    }
    marker.write_text(json.dumps(info))
    return info


def clone(template: Path, dest: Path) -> None:
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(template, dest, ignore=shutil.ignore_patterns("online", "feature_repo"))


def settings_for(home: Path, sources: str, store: str, port: int | None, engine: str) -> Any:
    from potluck.settings import RedisSettings

    settings = base_settings(home, sources)
    if store == "sqlite":
        return settings
    assert port is not None
    redis = RedisSettings(port=port, db=REDIS_DB[engine])
    return settings.model_copy(update={"online_store": "redis", "redis": redis})


# --------------------------------------------------------------------------- child process
def measure(
    engine: str, sources: str, store: str, home: str, port: int | None, end: str
) -> dict[str, Any]:
    """One engine into one store, in a fresh process (set up as ``potluck materialize``)."""
    from potluck.features.repo import FeatureRepo
    from potluck.online._memory import lean_memory

    lean_memory()  # what the CLI command does; applied to both engines alike (with the
    # ARROW_DEFAULT_MEMORY_POOL=system that main() sets for every child)
    repo = FeatureRepo(settings_for(Path(home), sources, store, port, engine))
    repo.store.list_feature_views()  # registry loaded before the clock starts
    moment = datetime.fromisoformat(end)
    base = c.current_rss_mb()
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    if engine == "potluck":
        from potluck.online.materialize import materialize

        summary = materialize(repo, end=moment)
        rows = summary.total_rows
    else:
        import contextlib
        import io

        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            repo.store.materialize(start_date=EPOCH, end_date=moment)
        rows = -1  # counted from the store by the parent
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - cpu0  # every thread of this process
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "rows": rows,
        "base_rss_mb": base,
        "peak_rss_mb": c.peak_rss_mb(),
    }


# --------------------------------------------------------------------------- checks
def sqlite_check(ours: Path, theirs: Path) -> tuple[int, list[str]]:
    """(entity rows, differences) between two SQLite online stores."""
    problems: list[str] = []
    rows = 0
    with sqlite3.connect(ours) as conn:
        conn.execute("ATTACH DATABASE ? AS theirs", (str(theirs),))
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            q = f'"{table}"'
            for a, b in (("main", "theirs"), ("theirs", "main")):
                (extra,) = conn.execute(
                    f"SELECT count(*) FROM (SELECT * FROM {a}.{q} EXCEPT SELECT * FROM {b}.{q})"
                ).fetchone()
                if extra:
                    problems.append(f"{table}: {extra} rows in {a} only")
            (entities,) = conn.execute(f"SELECT count(DISTINCT entity_key) FROM {q}").fetchone()
            rows += int(entities)
    return rows, problems


def redis_check(port: int) -> tuple[int, list[str]]:
    import redis

    ours, theirs = (redis.Redis(port=port, db=REDIS_DB[e]) for e in ENGINES)
    problems: list[str] = []
    keys = list(theirs.scan_iter(count=5000))
    if ours.dbsize() != len(keys):
        problems.append(f"{ours.dbsize()} keys vs Feast's {len(keys)}")
    rows = 0
    for lo in range(0, len(keys), 2000):
        batch = keys[lo : lo + 2000]
        a_pipe, b_pipe = ours.pipeline(transaction=False), theirs.pipeline(transaction=False)
        for key in batch:
            a_pipe.hgetall(key)
            b_pipe.hgetall(key)
        for key, a, b in zip(batch, a_pipe.execute(), b_pipe.execute(), strict=True):
            rows += sum(1 for field in b if field.startswith(b"_ts:"))
            if a != b and len(problems) < 10:
                problems.append(f"hash {key!r} differs")
    return rows, problems


# --------------------------------------------------------------------------- main
def run(args: argparse.Namespace, template: Path, work: Path, end: str) -> dict[str, Any]:
    from potluck import devservices

    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    results: dict[str, dict[str, Any]] = {e: {} for e in ENGINES}
    checks: dict[str, Any] = {}
    server = None
    try:
        for store in stores:
            port = None
            if store == "redis":
                server = devservices.start_redis(work / "redis", devservices.free_port())
                port = server.port
            homes = {}
            for engine in ENGINES:
                homes[engine] = work / f"{store}_{engine}"
                clone(template, homes[engine])
                console.print(f"[dim]{store}: {engine} ...[/dim]")
                kwargs = {"engine": engine, "store": store, "home": str(homes[engine])}
                kwargs.update(port=port, end=end, sources=args.sources)
                results[engine][store] = c.run_child(measure, kwargs, args.timeout)
            if store == "sqlite":
                rows, problems = sqlite_check(
                    homes["potluck"] / "online.db", homes["feast"] / "online.db"
                )
            else:
                assert port is not None
                rows, problems = redis_check(port)
            checks[store] = {"rows": rows, "problems": problems}
            for engine in ENGINES:
                if results[engine][store].get("status") == "ok":
                    results[engine][store]["rows"] = rows
            if server is not None:
                devservices.stop(server)
                server = None
    finally:
        if server is not None:
            devservices.stop(server)
    return {"results": results, "checks": checks, "stores": stores}


def summarize(outcome: dict[str, Any]) -> dict[str, dict[str, Any]]:
    summary: dict[str, dict[str, Any]] = {e: {} for e in ENGINES}
    for engine in ENGINES:
        for store in outcome["stores"]:
            r = outcome["results"][engine][store]
            ok = r.get("status") == "ok"
            summary[engine][f"{store}_status"] = r.get("status")
            summary[engine][f"{store}_rows"] = r.get("rows") if ok else None
            summary[engine][f"{store}_seconds"] = round(r["seconds"], 2) if ok else None
            summary[engine][f"{store}_cpu_seconds"] = round(r["cpu_seconds"], 2) if ok else None
            summary[engine][f"{store}_rows_per_s"] = round(r["rows"] / r["seconds"]) if ok else None
            summary[engine][f"{store}_peak_rss_mb"] = round(r["peak_rss_mb"], 1) if ok else None
            summary[engine][f"{store}_base_rss_mb"] = round(r["base_rss_mb"], 1) if ok else None
    return summary


def print_table(summary: dict[str, dict[str, Any]], stores: list[str]) -> None:
    table = Table(title="materialization (entity rows; peak RSS includes interpreter + Feast)")
    columns = ("store", "engine", "rows", "seconds", "cpu s", "rows/s", "peak RSS MB", "base MB")
    for column in (*columns, "x"):
        table.add_column(column, justify="right")
    for store in stores:
        theirs = summary["feast"][f"{store}_rows_per_s"]
        for engine in ENGINES:
            s = summary[engine]
            ours = s[f"{store}_rows_per_s"]
            speedup = f"{ours / theirs:.1f}" if ours and theirs and engine == "potluck" else ""
            table.add_row(
                store,
                engine,
                f"{s[f'{store}_rows'] or 0:,}",
                str(s[f"{store}_seconds"]),
                str(s[f"{store}_cpu_seconds"]),
                f"{ours or 0:,}",
                str(s[f"{store}_peak_rss_mb"]),
                str(s[f"{store}_base_rss_mb"]),
                speedup,
            )
    console.print(table)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--stores", default="sqlite,redis")
    parser.add_argument("--sources", choices=("parquet", "embedded"), default="parquet")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per engine run")
    parser.add_argument("--home", type=Path, help="keep the seeded home here (reused if same size)")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    # What `potluck materialize` does before pyarrow loads; the spawned children of both
    # engines inherit it (their peak RSS is measured alike).
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    c.quiet()
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="potluck_bench_mat_") as tmp:
        work = Path(tmp)
        template = args.home.resolve() if args.home else work / "template"
        console.print(f"[dim]preparing {args.patients:,} patients in {template}[/dim]")
        data_meta = prepare(template, args.patients, args.sources)
        end = data_meta["as_of"]
        outcome = run(args, template, work, end)
    problems = [f"{s}: {p}" for s, ch in outcome["checks"].items() for p in ch["problems"]]
    if problems:
        return c.refuse(
            console, "potluck's store differs from Feast's; no figures reported", problems
        )
    summary = summarize(outcome)

    meta = {
        **c.machine_meta(load_start, "feast", "pyarrow"),
        "window": f"1970-01-01 -> {end}",
        "rows": "entity rows: latest row per entity per view; equal in both stores",
        "peak_rss": "VmHWM of a fresh spawned process since exec (interpreter, Feast, data)",
        "cpu_seconds": "process CPU time of the run (all threads): the load-independent cost",
        "setup": "both children call potluck.online._memory.lean_memory() as the CLI does",
        "checks": {s: ch["rows"] for s, ch in outcome["checks"].items()},
        **data_meta,
    }
    print_table(summary, outcome["stores"])
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps({**summary, "meta": meta}, indent=2) + "\n")
        console.print(f"wrote {args.json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
