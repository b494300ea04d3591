"""Lakehouse: a point-in-time training set over Iceberg tables, in place vs the seed's route.

The lakehouse deployment's gold tables are generated (``--rows`` label rows, 100,000 by
default: ~14,000 customers over 12 months) and written to an Iceberg catalog (SQLite
catalog, local warehouse) one commit per month, as ``potluck seed`` does -- not timed:
that is the lakehouse as it stands. Then the same training set (every label row joined
point-in-time with the three gold views' nine features, TTLs applied) is built two
ways, same data, same process:

* ``potluck``: Feast's ``get_historical_features`` on potluck's federated offline store,
  whose ``customer_aggregates`` source is bound to the iceberg connector: the table is
  read in place (projection pushed into the scan) and joined with DuckDB's ASOF join.
* ``feast``: the seed's route -- export the gold table to local Parquet (a full scan of
  its current snapshot through pyiceberg, written with microsecond timestamps), then
  Feast 0.67's DuckDB offline store over a ``FileSource`` of that file. Its total
  includes the export.

The two results are checked to hold the same rows and values (matched on customer and
time). ``--json-out`` writes ``{"potluck": {...}, "feast": {...}, "meta": {...}}`` with
the same keys for both engines.

    python benchmarks/lakehouse_training.py [--rows 100000] [--repeat 1] [--json-out F]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from _common import machine_meta, quiet

AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
GOLD = "customer_aggregates"
VIEWS = ("customer_activity", "customer_support", "customer_account")
LABELS_PER_CUSTOMER = 7.1  # ~11 labelled months, less the churned


def _objects(source: Any) -> list[Any]:
    """The lakehouse entity and gold views over ``source`` (PII dropped)."""
    from feast import FeatureView

    from potluck.domains.lakehouse import features as lh

    views = []
    for view in lh.FEATURE_VIEWS:
        views.append(
            FeatureView(
                name=view.name,
                entities=[lh.customer],
                ttl=view.ttl,
                schema=[f for f in view.features if f.tags.get("pii") != "true"],
                source=source,
                online=False,
            )
        )
    return [lh.customer, *views]


def _store(repo: Path, offline: dict[str, Any], objects: list[Any]) -> Any:
    from feast import FeatureStore, RepoConfig

    repo.mkdir(parents=True, exist_ok=True)
    config = RepoConfig(
        project="bench_lakehouse",
        provider="local",
        registry=str(repo / "registry.db"),
        offline_store=offline,
        online_store={"type": "sqlite", "path": str(repo / "online.db")},
        entity_key_serialization_version=3,
        repo_path=str(repo),
    )
    store = FeatureStore(config=config)
    store.apply(objects)
    return store


def _refs(objects: list[Any]) -> list[str]:
    return [f"{v.name}:{f.name}" for v in objects[1:] for f in v.features]


def _timed(fn: Any, repeat: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - started)
    return best, out


def _frame(table: pa.Table, refs: list[str]) -> pd.DataFrame:
    names = [r.split(":")[1] for r in refs]
    df = table.select(["customer_id", "event_timestamp", *names]).to_pandas()
    df["event_timestamp"] = pd.to_datetime(df["event_timestamp"], utc=True)
    for name in names:  # one typing rule for the comparison: numbers as float, text as object
        if df[name].dtype != object:
            df[name] = df[name].astype("float64")
    return df.sort_values(["customer_id", "event_timestamp"]).reset_index(drop=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="label rows (training set)")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    load_start = os.getloadavg()
    quiet()

    from feast import FileSource

    from potluck.connectors import ReadRequest, open_connector
    from potluck.domains.lakehouse.synth import generate
    from potluck.offline.source import PotluckSource

    base = Path(tempfile.mkdtemp(prefix="potluck-bench-lakehouse-"))
    try:
        customers = int(args.rows / LABELS_PER_CUSTOMER) + 1
        tables = generate(customers, 42, AS_OF)
        options = {
            "uri": f"sqlite:///{base / 'catalog.db'}",
            "warehouse": str(base / "warehouse"),
            "namespace": "gold",
        }
        started = time.perf_counter()
        commits = 0
        for name, table in tables.items():
            conn = open_connector(name, "iceberg", options)
            ts = "updated_at" if name == GOLD else "snapshot_date"
            for i, month in enumerate(sorted(set(table[ts].to_pylist()))):
                part = table.filter(pa.compute.equal(table[ts], pa.scalar(month, table[ts].type)))
                conn.write(name, part, mode="replace" if i == 0 else "append")
                commits += 1
        write_s = time.perf_counter() - started
        labels = tables["churn_labels"].slice(0, args.rows)
        entity_df = pd.DataFrame(
            {
                "customer_id": labels["customer_id"].to_pylist(),
                "event_timestamp": pd.to_datetime(
                    labels["snapshot_date"].to_pandas(), utc=True
                ).to_numpy(),
            }
        )
        entity_df["event_timestamp"] = pd.to_datetime(entity_df["event_timestamp"], utc=True)

        # potluck: the federated store reads the Iceberg table in place
        objects = _objects(PotluckSource(name=GOLD, timestamp_field="updated_at"))
        refs = _refs(objects)
        potluck_store = _store(
            base / "potluck",
            {
                "type": "potluck.offline.store.FederatedOfflineStore",
                "sources": {GOLD: {"kind": "iceberg", "options": options}},
            },
            objects,
        )
        retrieval_s, ours = _timed(
            lambda: potluck_store.get_historical_features(entity_df, refs).to_arrow(), args.repeat
        )
        potluck = {"export_s": 0.0, "retrieval_s": round(retrieval_s, 3)}

        # the seed's route: export the gold table to Parquet, then Feast's DuckDB store
        parquet = base / "export" / f"{GOLD}.parquet"
        parquet.parent.mkdir(parents=True)
        gold = open_connector(GOLD, "iceberg", options)
        iceberg_table = gold.plan(ReadRequest(GOLD)).table  # type: ignore[attr-defined]

        def export() -> int:
            exported = iceberg_table.scan().to_arrow()
            pq.write_table(exported, parquet, coerce_timestamps="us")
            return int(exported.num_rows)

        export_s, exported_rows = _timed(export, args.repeat)
        file_objects = _objects(
            FileSource(name="gold_export", path=str(parquet), timestamp_field="updated_at")
        )
        feast_store = _store(base / "feast", {"type": "duckdb"}, file_objects)
        feast_retrieval_s, theirs = _timed(
            lambda: feast_store.get_historical_features(entity_df, refs).to_arrow(), args.repeat
        )
        feast = {"export_s": round(export_s, 3), "retrieval_s": round(feast_retrieval_s, 3)}
    finally:
        shutil.rmtree(base, ignore_errors=True)

    a, b = _frame(ours, refs), _frame(theirs, refs)
    same = len(a) == len(b) == args.rows and a.equals(b)
    for result, numbers in ((ours, potluck), (theirs, feast)):
        numbers["total_s"] = round(numbers["export_s"] + numbers["retrieval_s"], 3)
        numbers["rows"] = result.num_rows
        values = [result[r.split(":")[1]] for r in refs]
        numbers["non_null_fraction"] = round(
            1 - sum(v.null_count for v in values) / (len(values) * max(result.num_rows, 1)), 4
        )
    report = {
        "potluck": {**potluck, "route": "Iceberg read in place (pushdown) + DuckDB ASOF join"},
        "feast": {**feast, "route": "Iceberg -> Parquet export + Feast 0.67 DuckDB offline store"},
        "meta": {
            "label_rows": args.rows,
            "customers": customers,
            "gold_rows": tables[GOLD].num_rows,
            "exported_rows": exported_rows,
            "iceberg_commits": commits,
            "iceberg_write_s": round(write_s, 2),
            "features": len(refs),
            "same_result": same,
            "repeat": args.repeat,
            **machine_meta(load_start, "feast", "pyiceberg", "duckdb", "pyarrow"),
        },
    }
    print(
        f"{args.rows:,} label rows x {len(refs)} features; gold table {tables[GOLD].num_rows:,} rows"
    )
    for name in ("potluck", "feast"):
        r = report[name]
        print(
            f"{name:8s} total {r['total_s']:7.2f} s  (export {r['export_s']:.2f} s, "
            f"retrieval {r['retrieval_s']:.2f} s)  rows {r['rows']:,}"
        )
    print(f"same result: {same}")
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(report, indent=2, default=str))
        print(f"wrote {args.json_out}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
