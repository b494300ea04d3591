"""Sliding-window features: potluck's kernel beside DuckDB and Feast's tiling, same data.

    .venv/bin/python benchmarks/windows.py [--rows 100000] [--events 1000000] [--keys 10000]
        [--days 60] [--repeat 3] [--timeout 600] [--feast-max-tiles 200000] [--json-out FILE]

    # the full size: --rows 1000000 --events 10000000 --keys 100000

Data (written once as Parquet): ``--events`` events ``(key, ts, v)`` over ``--keys`` int64
keys (every key has events) spread uniformly over ``--days`` days, ``v`` a float with two
decimals; ``--rows`` entity rows ``(row_id, key, event_timestamp)``. Twelve features:
count / sum / mean of ``v`` over 5 minutes, 1 hour, 1 day and 30 days, each over
``(t - w, t]``. Entity times lie 1 µs before a 5-minute boundary: Feast's tiles end on
hop boundaries and cover ``[T - w, T)``, which for microsecond data is exactly ``(t - w, t]``
at ``t = T - 1 µs``, so Feast can be checked value for value; potluck and DuckDB do not
need the alignment.

Engines, each in a fresh spawned process (peak RSS = ``VmHWM`` reset after the inputs
are loaded and the engine's modules imported, so peak - base is the computation's; the
base is in brackets, the output's Arrow size beside it):

* ``potluck``: :func:`potluck.windows.offline.compute` on the Arrow tables.
* ``duckdb``: a hand-written range join ``ON e.key = r.key AND e.ts > r.ts - INTERVAL 30
  DAY AND e.ts <= r.ts``, ``GROUP BY`` the entity row, each shorter window a ``FILTER``.
* ``feast``: Feast 0.67's pandas tiling helpers, ``feast.aggregation.tiling``
  ``apply_sawtooth_window_tiling`` (5-minute hops) then ``convert_cumulative_to_windowed``
  per window, joined to the entity rows on ``(key, tile end = t + 1 µs)``. Its windowed
  mean is 0 for an empty window; it is set to null (potluck's and SQL's answer) before
  comparing. It builds a hop grid for every key over the whole data span and walks it
  row by row, so it runs only when keys x hops <= ``--feast-max-tiles`` (else "skipped").

Each engine's first run is untimed and its result is checked equal to potluck's (floats
within 1e-9) before any figure is printed; then ``--repeat`` timed runs, best reported.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

import _common as c

ENGINES = ("potluck", "duckdb", "feast")
HOP = timedelta(minutes=5)
WINDOWS = {"5m": timedelta(minutes=5), "1h": timedelta(hours=1)}
WINDOWS |= {"1d": timedelta(days=1), "30d": timedelta(days=30)}
FUNCTIONS = ("count", "sum", "mean")
console = Console(width=None if sys.stdout.isatty() else 150)


def features() -> list[Any]:
    from potluck.windows.spec import WindowFeature

    return [
        WindowFeature(f"{fn}_{label}", "v", fn, window)  # type: ignore[arg-type]
        for label, window in WINDOWS.items()
        for fn in FUNCTIONS
    ]


# --------------------------------------------------------------------------- data
def generate(work: Path, rows: int, events: int, keys: int, days: int, seed: int = 3) -> dict:
    rng = np.random.default_rng(seed)
    end = np.datetime64(c.AS_OF.replace(tzinfo=None), "us").astype(np.int64)
    hop_us, span = HOP // timedelta(microseconds=1), days * 86_400_000_000
    start = (end - span) // hop_us * hop_us
    key = rng.permutation(np.arange(events) % keys).astype(np.int64)  # every key has events
    ts = start + rng.integers(0, end - start, events)
    value = np.round(rng.uniform(0, 100, events), 2)
    ev = pa.table({"key": key, "ts": pa.array(ts, pa.timestamp("us")), "v": value})
    # entity times: 1 µs before a hop boundary inside the tile grid (see the docstring)
    first, last = ts.min() // hop_us + 1, ts.max() // hop_us + 1
    t = rng.integers(first, last + 1, rows) * hop_us - 1
    en = pa.table(
        {
            c.ROW_ID: np.arange(rows, dtype=np.int64),
            "key": rng.integers(0, keys, rows).astype(np.int64),
            "event_timestamp": pa.array(t, pa.timestamp("us")),
        }
    )
    pq.write_table(ev, work / "events.parquet")
    pq.write_table(en, work / "entity.parquet")
    return {"hops": int(last - ts.min() // hop_us + 1)}


# --------------------------------------------------------------------------- engines
def run_potluck(ev: pa.Table, en: pa.Table) -> pa.Table:
    from potluck.windows.offline import compute

    out = compute(ev, "key", "ts", en, features())
    return out.drop_columns(["key", "event_timestamp"])


def run_duckdb(ev: pa.Table, en: pa.Table) -> pa.Table:
    import duckdb

    con = duckdb.connect()
    con.register("events", ev)
    con.register("entity", en)
    sql_windows = {"5m": "5 MINUTE", "1h": "1 HOUR", "1d": "1 DAY", "30d": "30 DAY"}
    select = []
    for label, interval in sql_windows.items():
        inside = f"FILTER (WHERE e.ts > r.event_timestamp - INTERVAL {interval})"
        select += [
            f"count(e.v) {inside} AS count_{label}",
            f"coalesce(sum(e.v) {inside}, 0) AS sum_{label}",
            f"avg(e.v) {inside} AS mean_{label}",
        ]
    query = f"""
        SELECT r.{c.ROW_ID}, {", ".join(select)}
        FROM entity r LEFT JOIN events e
          ON e.key = r.key AND e.ts > r.event_timestamp - INTERVAL 30 DAY
         AND e.ts <= r.event_timestamp
        GROUP BY r.{c.ROW_ID} ORDER BY r.{c.ROW_ID}"""
    return con.sql(query).to_arrow_table()


def run_feast(ev: pa.Table, en: pa.Table) -> pa.Table:
    import pandas as pd
    from feast.aggregation.tiling import (
        apply_sawtooth_window_tiling,
        convert_cumulative_to_windowed,
    )

    from potluck.windows.spec import to_feast_aggregation

    events = ev.to_pandas()
    frame = en.to_pandas()
    frame["_end"] = frame["event_timestamp"] + pd.Timedelta(microseconds=1)
    for label, window in WINDOWS.items():
        aggs = [to_feast_aggregation(f) for f in features() if f.window == window]
        tiles = apply_sawtooth_window_tiling(events.copy(), aggs, ["key"], "ts", window, HOP)
        windowed = convert_cumulative_to_windowed(tiles, ["key"], "_end", window, aggs)
        names = [a.name for a in aggs]
        windowed = windowed[["key", "_end", *names]]
        windowed["_end"] = windowed["_end"].astype(frame["_end"].dtype)
        frame = frame.merge(windowed, on=["key", "_end"], how="left")
        empty = frame[f"count_{label}"] == 0  # Feast's empty mean is 0; ours null
        frame.loc[empty, f"mean_{label}"] = np.nan
    out = frame.drop(columns=["key", "event_timestamp", "_end"]).sort_values(c.ROW_ID)
    return pa.Table.from_pandas(out, preserve_index=False)


RUNNERS = {"potluck": run_potluck, "duckdb": run_duckdb, "feast": run_feast}
IMPORTS = {
    "potluck": "potluck.windows.offline",
    "duckdb": "duckdb",
    "feast": "feast.aggregation.tiling",
}


def measure(engine: str, work: str, repeat: int, budget: float) -> dict[str, Any]:
    """One engine in a fresh process: load, untimed run (kept), timed runs, peak RSS."""
    started = time.perf_counter()
    ev = pq.read_table(Path(work) / "events.parquet")
    en = pq.read_table(Path(work) / "entity.parquet")
    # the engine's modules are imported before the base is taken: the peak above the
    # base is then the computation's, not the imports' (feast's alone is ~70 MB)
    importlib.import_module(IMPORTS[engine])
    report: dict[str, Any] = {"base_rss_mb": c.current_rss_mb(), "reset": c.reset_peak_rss()}
    t0 = time.perf_counter()
    table = RUNNERS[engine](ev, en)
    cold = time.perf_counter() - t0
    report["output_mb"] = table.nbytes / 2**20
    path = Path(work) / f"{engine}.arrow"
    feather.write_feather(table, path, compression="uncompressed")
    del table
    times: list[float] = []
    for _ in range(repeat):  # stop early rather than overrun the budget
        if time.perf_counter() - started + (times[-1] if times else cold) > budget:
            break
        t0 = time.perf_counter()
        RUNNERS[engine](ev, en)
        times.append(time.perf_counter() - t0)
    return {**report, "cold_s": cold, "times": times, "path": str(path), "peak": c.peak_rss_mb()}


# --------------------------------------------------------------------------- orchestration
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per engine")
    parser.add_argument("--feast-max-tiles", type=int, default=200_000)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    c.quiet()
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="potluck_windows_") as tmp:
        work = Path(tmp)
        with console.status("generating data ..."):
            data = generate(work, args.rows, args.events, args.keys, args.days)
        tiles = data["hops"] * args.keys
        reports: dict[str, dict[str, Any]] = {}
        for engine in ENGINES:
            if engine == "feast" and tiles > args.feast_max_tiles:
                reports[engine] = {"status": f"skipped: {tiles:,} tiles > --feast-max-tiles"}
                console.log(f"feast skipped ({args.keys:,} keys x {data['hops']:,} hops)")
                continue
            with console.status(f"{engine} ..."):
                kwargs = dict(engine=engine, work=tmp, repeat=args.repeat, budget=args.timeout)
                reports[engine] = c.run_child(measure, kwargs, timeout=args.timeout + 60)
            console.log(f"{engine}: {reports[engine]['status']}")
            if reports[engine]["status"] == "error":
                console.print(reports[engine]["error"], style="red")
        problems, checked = check(reports, args.rows)
    if problems:
        return c.refuse(console, "results differ from potluck's; no timings reported", problems)
    summary = summarize(reports, checked, args.rows)
    meta = {
        **c.machine_meta(load_start, "feast", "duckdb", "pyarrow", "numpy"),
        "rows": args.rows,
        "events": args.events,
        "keys": args.keys,
        "days": args.days,
        "features": [f.name for f in features()],
        "repeat": args.repeat,
        "feast_path": "feast.aggregation.tiling: apply_sawtooth_window_tiling + "
        "convert_cumulative_to_windowed (pandas), 5-minute hops",
        "timing": "best wall seconds of --repeat warm runs (cold run if none fit the budget)",
        "peak_rss": "VmHWM of a fresh child, reset after loading the inputs and importing "
        "the engine (base_rss_mb); computation_rss_mb = peak - base, over every run",
        "tiles_keys_x_hops": tiles,
    }
    print_table(summary, meta)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps({**summary, "meta": meta}, indent=2) + "\n")
        console.print(f"wrote {args.json_out}")
    return 0


def check(reports: dict, rows: int) -> tuple[list[str], dict[str, bool]]:
    """Every engine's first result against potluck's, value for value."""
    problems: list[str] = []
    checked = {e: False for e in ENGINES}
    ours = reports["potluck"]
    if ours["status"] != "ok":
        return [f"potluck: {ours['status']} {ours.get('error', '')}"], checked
    expected = feather.read_table(ours["path"])
    if expected.num_rows != rows or expected[c.ROW_ID].to_pylist() != list(range(rows)):
        problems.append("potluck did not return the entity rows in order")
    checked["potluck"] = not problems
    for engine in ENGINES[1:]:
        if reports[engine]["status"] != "ok":
            continue
        diff = c.compare(
            expected, feather.read_table(reports[engine]["path"]), allow_missing_rows=False
        )
        problems += [f"{engine}: {p}" for p in diff["problems"]]
        checked[engine] = not diff["problems"]
    return problems, checked


def summarize(reports: dict, checked: dict[str, bool], rows: int) -> dict[str, dict[str, Any]]:
    """engine -> the same keys for every engine (None where it did not run)."""
    out = {}
    for engine in ENGINES:
        r = reports[engine]
        times = r.get("times") or ([r["cold_s"]] if "cold_s" in r else [])
        best = min(times) if times else None
        out[engine] = {
            "status": r["status"],
            "seconds": None if best is None else round(best, 4),
            "cold_seconds": None if "cold_s" not in r else round(r["cold_s"], 4),
            "repeats": len(r.get("times") or []),
            "rows_per_s": None if best is None else round(rows / best),
            "peak_rss_mb": None if "peak" not in r else round(r["peak"], 1),
            "base_rss_mb": None if "base_rss_mb" not in r else round(r["base_rss_mb"], 1),
            "computation_rss_mb": None
            if "peak" not in r
            else round(r["peak"] - r["base_rss_mb"], 1),
            "output_mb": None if "output_mb" not in r else round(r["output_mb"], 1),
            "checked_equal": checked[engine] if r["status"] == "ok" else None,
        }
    return out


def print_table(summary: dict, meta: dict) -> None:
    table = Table(
        title=f"12 window features (count/sum/mean x 5m/1h/1d/30d): {meta['rows']:,} entity rows, "
        f"{meta['events']:,} events, {meta['keys']:,} keys — {meta['cpu_count']} cores"
    )
    cols = ("engine", "status", "best s", "cold s", "entity rows/s", "peak RSS MB (base)")
    for col in (*cols, "peak - base MB", "output MB"):
        table.add_column(col, justify="right")
    table.add_column("checked equal")
    for engine, s in summary.items():
        fmt = lambda v, spec=".3f": "–" if v is None else format(v, spec)  # noqa: E731
        table.add_row(
            engine,
            s["status"],
            fmt(s["seconds"]),
            fmt(s["cold_seconds"]),
            fmt(s["rows_per_s"], ",d"),
            f"{fmt(s['peak_rss_mb'], ',.0f')} ({fmt(s['base_rss_mb'], ',.0f')})",
            fmt(s["computation_rss_mb"], ",.0f"),
            fmt(s["output_mb"], ",.0f"),
            str(s["checked_equal"]),
        )
    console.print(table)


if __name__ == "__main__":
    sys.exit(main())
