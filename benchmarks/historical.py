"""Historical retrieval: potluck's federated store beside plain Feast, same data, same run.

    .venv/bin/python benchmarks/historical.py [--rows 10000,100000,1000000] [--patients 100000]
        [--repeat 3] [--feast-timeout 300] [--json-out FILE] [--profile]

The healthcare sources and engineered tables are written once as Parquet; three feature
stores read those same files: ``potluck`` (the federated store, parquet connector),
``feast`` (Feast's DuckDB offline store) and ``feast_dask`` (Feast's file/dask store), the
last two over ``FileSource`` copies of the healthcare views, on-demand view and services.

For every entity-frame size and engine a fresh spawned process opens the store, runs
``get_historical_features(...).to_arrow()`` once untimed (warm-up, its result kept for the
equality check), then ``--repeat`` timed runs (best and median reported), and reports its
peak RSS (``VmHWM`` from just before the first retrieval: it includes the baseline of
Python, Feast and the entity frame) and the output's Arrow size. Every Feast result is
checked equal to potluck's, value for value, before any timing is printed; potluck must
return every entity row. Feast's file/dask store drops entity rows without data inside a
view's TTL: only the rows it returns are compared, and the drop is reported.
Each child has ``--feast-timeout`` seconds (every engine): it stops repeating early rather
than overrun, is killed past the budget ("timeout"), and larger sizes are then skipped.
``--profile`` instead runs potluck once at the largest size under cProfile.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

import _common as c

SERVICES = ("stroke_risk_full", "stroke_risk_v1")
TIMING_COLUMNS = ("N", "engine", "best s", "median s", "entity rows/s", "peak RSS MB (base)")
TIMING_COLUMNS += ("output MB", "peak RSS / output", "potluck speedup", "v1 best s")
console = Console(width=None if sys.stdout.isatty() else 150)


# --------------------------------------------------------------------------- child process
def measure(
    engine: str, config: dict, entity_path: str, out_dir: str, repeat: int, budget: float
) -> dict[str, Any]:
    """One engine, one entity frame, in a fresh process: warm-up, timed runs, peak RSS."""
    started = time.perf_counter()
    import pandas as pd
    import pyarrow.feather as feather
    from feast import FeatureStore, RepoConfig

    store = FeatureStore(config=RepoConfig(**config))
    entity = pd.read_parquet(entity_path)
    report: dict[str, Any] = {"base_rss_mb": c.current_rss_mb(), "reset": c.reset_peak_rss()}
    for name in SERVICES:
        service = store.get_feature_service(name)

        def run(service: Any = service) -> tuple[Any, float]:
            frame = entity.copy()  # stores may modify the frame they are given
            t0 = time.perf_counter()
            table = store.get_historical_features(entity_df=frame, features=service).to_arrow()
            return table, time.perf_counter() - t0

        table, cold = run()
        path = Path(out_dir) / f"{engine}_{name}_{len(entity)}.arrow"
        feather.write_feather(table, path, compression="uncompressed")
        stats = {"cold_s": cold, "rows": table.num_rows, "nbytes": table.nbytes, "path": str(path)}
        del table
        times: list[float] = []
        for _ in range(repeat):  # stop early rather than overrun the time budget
            if time.perf_counter() - started + (times[-1] if times else cold) > budget:
                break
            table, seconds = run()
            times.append(seconds)
            del table
        stats["times"] = times
        if name == SERVICES[0]:
            stats["peak_rss_mb"] = c.peak_rss_mb()  # before the second service runs
        report[name] = stats
    return report


# --------------------------------------------------------------------------- orchestration
def prepare(work: Path, patients: int, sizes: list[int]) -> tuple[dict, dict, dict[int, str]]:
    """Data, three applied repos and the entity frames (Parquet) under ``work``."""
    import pyarrow.parquet as pq

    from potluck.domains.healthcare.features import OBJECTS

    data = work / "data"
    with console.status(f"generating {patients:,} patients ..."):
        t0 = time.perf_counter()
        source_rows = c.write_dataset(data, patients)
        gen_s = time.perf_counter() - t0
    configs = c.repo_configs(work / "repos", data, sorted(source_rows))
    with console.status("applying three feature repositories ..."):
        c.apply_repo(configs["potluck"], OBJECTS)
        for engine in ("feast", "feast_dask"):
            c.apply_repo(configs[engine], c.file_source_objects(data))
    ids = pq.read_table(data / "patient_demographics.parquet", columns=["patient_id"])
    entities = {}
    for n in sizes:
        entities[n] = str(work / f"entity_{n}.parquet")
        c.entity_frame(ids["patient_id"].combine_chunks(), n).to_parquet(entities[n])
    return {"source_rows": source_rows, "generate_s": round(gen_s, 2)}, configs, entities


def run_all(args: argparse.Namespace, configs: dict, entities: dict[int, str], out: Path) -> dict:
    """engine -> size -> child report (status ok | timeout | error | skipped)."""
    results: dict[str, dict[int, dict]] = {e: {} for e in c.ENGINES}
    for n, path in entities.items():
        for engine in c.ENGINES:
            earlier = [r["status"] for r in results[engine].values()]
            if "timeout" in earlier or "skipped" in earlier:
                results[engine][n] = {"status": "skipped"}  # a smaller size already timed out
                continue
            budget = args.feast_timeout
            with console.status(f"{c.LABELS[engine]}: {n:,} entity rows ..."):
                t0 = time.perf_counter()
                kwargs = dict(
                    engine=engine,
                    config=configs[engine],
                    entity_path=path,
                    out_dir=str(out),
                    repeat=args.repeat,
                    budget=budget,
                )
                report = c.run_child(measure, kwargs, timeout=budget + 30)
            results[engine][n] = report
            console.log(
                f"{c.LABELS[engine]:<16} {n:>9,} rows: {report['status']}"
                f" ({time.perf_counter() - t0:.0f} s)"
            )
            if report["status"] == "error":
                console.print(report["error"], style="red")
    return results


def check(results: dict, sizes: list[int]) -> tuple[list[str], dict]:
    """Compare every Feast result with potluck's; returns (problems, engine -> size -> info)."""
    import numpy as np
    import pyarrow.feather as feather

    problems: list[str] = []
    info: dict[str, dict[tuple[int, str], dict]] = {e: {} for e in c.ENGINES}
    for n in sizes:
        ours = results["potluck"][n]
        if ours["status"] != "ok":
            problems.append(f"potluck at {n:,} rows: {ours['status']}")
            continue
        for name in SERVICES:
            expected = feather.read_table(ours[name]["path"])
            ids = expected[c.ROW_ID].to_numpy()
            if expected.num_rows != n or not np.array_equal(ids, np.arange(n)):
                problems.append(f"potluck {name} at {n:,}: rows not the entity frame's, in order")
            info["potluck"][n, name] = {"rows": expected.num_rows, "missing_rows": 0}
            for engine in ("feast", "feast_dask"):
                theirs = results[engine][n]
                if theirs["status"] != "ok":
                    continue
                actual = feather.read_table(theirs[name]["path"])
                diff = c.compare(expected, actual, allow_missing_rows=engine == "feast_dask")
                info[engine][n, name] = diff
                problems += [f"{c.LABELS[engine]} {name} at {n:,}: {p}" for p in diff["problems"]]
    return problems, info


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def summarize(results: dict, info: dict, sizes: list[int]) -> dict[str, dict[str, Any]]:
    """engine -> flat dict of figures; every engine gets the same keys (None when missing)."""
    out: dict[str, dict[str, Any]] = {}
    for engine in c.ENGINES:
        row: dict[str, Any] = {}
        for n in sizes:
            report = results[engine][n]
            row[f"rows_{n}_status"] = report["status"]
            for prefix, name in (("", SERVICES[0]), ("v1_", SERVICES[1])):
                stats = report.get(name) or {}
                # no timed run left in the budget: the warm-up (cold) run stands in
                times = stats.get("times") or ([stats["cold_s"]] if stats else [])
                best = min(times) if times else None
                row[f"{prefix}rows_{n}_s"] = _round(best, 4)
                row[f"{prefix}rows_{n}_median_s"] = _round(
                    statistics.median(times) if times else None, 4
                )
                row[f"{prefix}rows_{n}_repeats"] = len(stats["times"]) if stats else None
                row[f"{prefix}rows_{n}_rows_per_s"] = best and round(n / best)
                row[f"{prefix}rows_returned_{n}"] = stats.get("rows")
                if prefix:
                    continue
                output = stats["nbytes"] / 2**20 if stats else None
                peak, base = stats.get("peak_rss_mb"), report.get("base_rss_mb")
                row[f"rows_{n}_peak_rss_mb"] = _round(peak)
                row[f"rows_{n}_base_rss_mb"] = _round(base)
                row[f"rows_{n}_output_mb"] = _round(output, 2)
                row[f"rows_{n}_peak_rss_per_output"] = _round(peak / output if peak else None)
                compared = (info[engine].get((n, name)) or {}).get("compared_rows")
                row[f"rows_{n}_rows_compared"] = stats.get("rows") if compared is None else compared
        out[engine] = row
    return out


def _fmt(value: Any, spec: str = ".3f") -> str:
    return "–" if value is None else format(value, spec)


def _seconds(row: dict[str, Any], key: str) -> str:
    """Best seconds; "(cold)" when the time budget left no timed run after the warm-up."""
    return _fmt(row[key]) + (" (cold)" if row[key.removesuffix("_s") + "_repeats"] == 0 else "")


def print_tables(summary: dict, sizes: list[int], meta: dict) -> None:
    rows = Table(title="Rows returned by stroke_risk_full (the entity frame has N rows)")
    for col in ("entity rows N", *[c.LABELS[e] for e in c.ENGINES], "checked equal to potluck"):
        rows.add_column(col, justify="right")
    for n in sizes:
        cells, checked = [], []
        for engine in c.ENGINES:
            got = summary[engine][f"rows_returned_{n}"]
            status = summary[engine][f"rows_{n}_status"]
            cells.append(status if got is None else f"{got:,}" + (" (drops)" if got < n else ""))
            compared = summary[engine][f"rows_{n}_rows_compared"]
            if engine != "potluck" and got is not None:
                checked.append(f"{c.LABELS[engine]}: {compared:,} rows")
        rows.add_row(f"{n:,}", *cells, "; ".join(checked) or "–")
    console.print(rows)
    timing = Table(
        title=f"get_historical_features(stroke_risk_full).to_arrow(), warm, best of "
        f"{meta['repeat']} (median) — {meta['cpu_count']} cores"
    )
    for col in TIMING_COLUMNS:
        timing.add_column(col, justify="right")
    for n in sizes:
        for engine in c.ENGINES:
            s = summary[engine]
            if s[f"rows_{n}_s"] is None:
                timing.add_row(f"{n:,}", c.LABELS[engine], s[f"rows_{n}_status"], *["–"] * 7)
                continue
            speedup = meta["speedup"].get(engine, {}).get(str(n))
            timing.add_row(
                f"{n:,}",
                c.LABELS[engine],
                _seconds(s, f"rows_{n}_s"),
                _fmt(s[f"rows_{n}_median_s"]),
                _fmt(s[f"rows_{n}_rows_per_s"], ",d"),
                f"{_fmt(s[f'rows_{n}_peak_rss_mb'], ',.0f')} ({_fmt(s[f'rows_{n}_base_rss_mb'], ',.0f')})",
                _fmt(s[f"rows_{n}_output_mb"], ".1f"),
                _fmt(s[f"rows_{n}_peak_rss_per_output"], ".1f"),
                "" if engine == "potluck" else _fmt(speedup, ".1f") + "x",
                _seconds(s, f"v1_rows_{n}_s"),
            )
        timing.add_section()
    console.print(timing)
    console.print(
        "Peak RSS: VmHWM of the child process from just before the first retrieval, so it "
        "includes its base (Python, Feast, the entity frame: in brackets). "
        "[bold]Feast's file/dask store drops entity rows[/] with no feature row inside a view's "
        "TTL: its figures cover the rows it returned, each checked equal to potluck's. "
        "Speedup = their best / potluck's best (below 1: potluck is slower)."
    )


def profile_potluck(config: dict, entity_path: str) -> None:
    """One warm potluck retrieval under cProfile; prints the top of the profile."""
    import cProfile
    import pstats

    import pandas as pd
    from feast import FeatureStore, RepoConfig

    store = FeatureStore(config=RepoConfig(**config))
    service = store.get_feature_service(SERVICES[0])
    entity = pd.read_parquet(entity_path)
    store.get_historical_features(entity_df=entity.copy(), features=service).to_arrow()
    profiler = cProfile.Profile()
    profiler.enable()
    store.get_historical_features(entity_df=entity, features=service).to_arrow()
    profiler.disable()
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats(45)
    stats.sort_stats("tottime").print_stats(25)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", default="10000,100000,1000000")
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--feast-timeout",
        type=float,
        default=300.0,
        help="seconds per engine per size (child process killed after)",
    )
    parser.add_argument("--json-out", type=Path)
    parser.add_argument(
        "--profile",
        action="store_true",
        help="profile potluck at the largest size instead of benchmarking",
    )
    args = parser.parse_args()
    c.quiet()
    load_start = os.getloadavg()
    sizes = sorted(int(n) for n in args.rows.split(","))
    with tempfile.TemporaryDirectory(prefix="potluck_bench_") as tmp:
        work = Path(tmp)
        data_meta, configs, entities = prepare(work, args.patients, sizes)
        if args.profile:
            profile_potluck(configs["potluck"], entities[sizes[-1]])
            return 0
        out = work / "results"
        out.mkdir()
        results = run_all(args, configs, entities, out)
        problems, info = check(results, sizes)
    if problems:
        return c.refuse(console, "results differ from potluck's; no timings reported", problems)
    summary = summarize(results, info, sizes)

    speedup: dict[str, dict[str, float | None]] = {}
    for engine in ("feast", "feast_dask"):
        speedup[engine] = {}
        for n in sizes:
            theirs, ours = summary[engine][f"rows_{n}_s"], summary["potluck"][f"rows_{n}_s"]
            speedup[engine][str(n)] = theirs and ours and round(theirs / ours, 2)
    meta = {
        **c.machine_meta(load_start, "feast", "duckdb", "pyarrow"),
        "patients": args.patients,
        "rows": sizes,
        "repeat": args.repeat,
        "feast_timeout_s": args.feast_timeout,
        "timing": "wall seconds of get_historical_features(...).to_arrow(), warm",
        "peak_rss": "VmHWM of a fresh child process, reset after start-up (base_rss_mb)",
        "feast_dask_drops_rows": True,
        **data_meta,
        "speedup": speedup,
    }
    print_tables(summary, sizes, meta)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps({**summary, "meta": meta}, indent=2) + "\n")
        console.print(f"wrote {args.json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
