"""Iceberg: a keyed, windowed read with pushdown vs a full scan of the same table.

A 100,000-row table (by default) is written through potluck's iceberg connector (SQLite
catalog, local warehouse) as ten appends, one data file per append, each holding ten
days of events for every patient. Then one request -- 1% of the patients, a ten-day
window, three columns -- is answered three ways:

* ``potluck``: ``IcebergConnector.read`` -- keys as ``In``, the window as ``>=``/``<=``
  and the projection pushed into pyiceberg's scan; file statistics prune the appends
  outside the window before any file is opened.
* ``feast`` / ``pyiceberg_full_scan``: what a reader without pushdown does (and what
  plain Feast 0.67 would need here: its Iceberg paths go through Spark, Trino or Unity
  Catalog, none of which runs on these machines) -- ``table.scan().to_arrow()`` of
  every row and column, then the same filter in Arrow.
* ``feast`` / ``duckdb_iceberg``: DuckDB's ``iceberg_scan`` over the table's metadata
  file, if DuckDB's iceberg extension can be installed (it is downloaded from
  extensions.duckdb.org, which these machines usually cannot reach: then "unavailable").

The answers are checked to match (same rows as the full scan; same count from DuckDB). Timings are the best
of ``--repeat`` runs in this process (warm OS cache, same for all).

    python benchmarks/iceberg.py [--rows 100000] [--repeat 5] [--json-out reports/bench_iceberg.json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from _common import machine_meta

T0 = datetime(2026, 1, 1, tzinfo=UTC)
APPENDS = 10
TS = pa.timestamp("us", "UTC")


def _batch(b: int, per_batch: int, patients: int) -> pa.Table:
    """Append ``b``: every patient, events spread over days ``10 b`` .. ``10 b + 10``."""
    step = 10 * 86_400_000_000 // per_batch  # µs between events
    first = T0 + timedelta(days=10 * b)
    return pa.table(
        {
            "patient_id": [f"P{j % patients}" for j in range(per_batch)],
            "event_timestamp": pa.array(
                [first + timedelta(microseconds=j * step) for j in range(per_batch)], TS
            ),
            "bmi": [20.0 + j / per_batch for j in range(per_batch)],
            "glucose": [90.0 + (j * 7) % 190 for j in range(per_batch)],
            "smoking": [("never", "smokes", "formerly")[j % 3] for j in range(per_batch)],
        }
    )


def _best(fn: Callable[[], pa.Table], repeat: int) -> tuple[float, pa.Table]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    assert result is not None
    return best, result


def _duckdb_probe(out: Any) -> None:
    try:
        import duckdb

        conn = duckdb.connect()
        conn.execute("INSTALL iceberg")
        conn.execute("LOAD iceberg")
        out.put("ok")
    except Exception as exc:
        out.put(f"unavailable: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}")


def _duckdb_available(timeout: float = 30.0) -> str:
    """Try DuckDB's iceberg extension in a child process (a download may hang offline)."""
    out: Any = mp.get_context("spawn").Queue()
    child = mp.get_context("spawn").Process(target=_duckdb_probe, args=(out,))
    child.start()
    child.join(timeout)
    if child.is_alive():
        child.kill()
        child.join()
        return f"unavailable: extension install did not finish in {timeout:.0f} s"
    return str(out.get()) if not out.empty() else "unavailable: probe exited silently"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--patients", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    load_start = os.getloadavg()

    from potluck.connectors import ReadRequest, open_connector
    from potluck.connectors.iceberg import IcebergConnector

    base = Path(tempfile.mkdtemp(prefix="potluck-bench-iceberg-"))
    try:
        options = {"uri": f"sqlite:///{base / 'catalog.db'}", "warehouse": str(base / "wh")}
        connector = open_connector("bench", "iceberg", options)
        assert isinstance(connector, IcebergConnector)
        per_batch = args.rows // APPENDS
        started = time.perf_counter()
        for b in range(APPENDS):
            connector.write("events", _batch(b, per_batch, args.patients), mode="append")
        write_s = time.perf_counter() - started
        keys = [f"P{i}" for i in range(0, args.patients, 100)]  # 1% of the patients
        start, end = T0 + timedelta(days=30), T0 + timedelta(days=40) - timedelta(microseconds=1)
        columns = ["patient_id", "event_timestamp", "bmi"]
        request = ReadRequest(
            "events", columns=columns, key_column="patient_id", keys=keys,
            timestamp_column="event_timestamp", start=start, end=end,
        )  # fmt: skip
        files = len(connector.planned_files(request))
        total_files = len(connector.planned_files(ReadRequest("events")))
        potluck_s, expected = _best(lambda: connector.read(request), args.repeat)

        table = connector.plan(ReadRequest("events")).table

        def full_scan() -> pa.Table:
            everything = table.scan().to_arrow()
            ts = everything.column("event_timestamp").cast(TS)
            mask = pc.and_(
                pc.is_in(everything.column("patient_id"), pa.array(keys)),
                pc.and_(
                    pc.greater_equal(ts, pa.scalar(start, TS)),
                    pc.less_equal(ts, pa.scalar(end, TS)),
                ),
            )
            return everything.filter(mask).select(columns)

        full_s, full = _best(full_scan, args.repeat)
        duck_status = _duckdb_available()
        duck_s: float | None = None
        if duck_status == "ok":
            import duckdb

            conn = duckdb.connect()
            conn.execute("LOAD iceberg")
            conn.execute("SET TimeZone = 'UTC'")
            listed = ", ".join(f"'{k}'" for k in keys)
            sql = (
                f"SELECT {', '.join(columns)} FROM iceberg_scan('{table.metadata_location}') "
                f"WHERE patient_id IN ({listed}) AND event_timestamp BETWEEN ? AND ?"
            )
            duck_s, duck = _best(lambda: conn.execute(sql, [start, end]).arrow(), args.repeat)
            if duck.num_rows != expected.num_rows:
                print(f"DuckDB returned {duck.num_rows} rows, potluck {expected.num_rows}")
                return 1
    finally:
        shutil.rmtree(base, ignore_errors=True)

    same = full.column("bmi").to_pylist() == expected.column("bmi").to_pylist()
    report = {
        "potluck": {
            "read_s": round(potluck_s, 4),
            "rows": expected.num_rows,
            "files_read": files,
            "files_in_table": total_files,
            "write_s": round(write_s, 3),
        },
        "feast": {
            "pyiceberg_full_scan_s": round(full_s, 4),
            "duckdb_iceberg_s": None if duck_s is None else round(duck_s, 4),
            "duckdb_iceberg": duck_status,
            "note": "plain Feast 0.67 reads Iceberg only via Spark/Trino/Unity Catalog",
        },
        "meta": {
            "table_rows": per_batch * APPENDS,
            "repeat": args.repeat,
            **machine_meta(load_start, "pyiceberg", "pyarrow", "duckdb"),
        },
    }
    print(f"{APPENDS} appends of {per_batch:,} rows written in {write_s:.2f} s")
    print(f"request: {len(keys)} keys, 10-day window -> {expected.num_rows:,} rows")
    print(f"potluck pushdown   {potluck_s * 1000:8.1f} ms  ({files}/{total_files} files read)")
    print(f"pyiceberg full scan{full_s * 1000:8.1f} ms  ({full_s / potluck_s:.1f}x slower)")
    shown = f"{duck_s * 1000:8.1f} ms" if duck_s is not None else duck_status
    print(f"DuckDB iceberg     {shown}")
    print(f"same rows as the full scan: {same}")
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(report, indent=2, default=str))
        print(f"wrote {args.json_out}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
