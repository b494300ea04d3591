"""PostgreSQL: potluck beside plain Feast's PostgreSQL offline store, same server, same run.

1. A training set (10,000 entity rows by default) over the six healthcare views, every
   one of them a PostgreSQL table: Feast's PostgreSQL offline store (``PostgreSQLSource``
   views, one point-in-time SQL statement) vs potluck's federated store (each view pulled
   through the ADBC connector with its keys and time window pushed down, joined in
   DuckDB). The two results are checked equal value for value before any figure is shown.
2. A pull of 1,000,000 rows from one table: potluck's connector vs Feast's
   ``PostgreSQLOfflineStore.pull_all_from_table_or_query(...).to_arrow()``, rows/s.

A PostgreSQL 15 server is started for the run (``potluck.devservices``) and stopped after.
Each measurement runs in a fresh process, so neither engine warms the other's caches.

    python benchmarks/postgres.py [--patients 10000] [--rows 10000] [--pull-rows 1000000]
                                  [--json-out reports/bench_postgres.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from _common import (
    AS_OF,
    WINDOW,
    compare,
    entity_frame,
    run_child,
)

PULL_TABLE = "pull_rows"
PULL_FEATURES = ["avg_glucose_level", "bmi", "blood_pressure_systolic", "heart_rate"]
ENGINES = ("potluck", "feast")
LABELS = {"potluck": "potluck (federated, ADBC)", "feast": "Feast PostgreSQL store"}


def _pg_options(port: int) -> dict[str, Any]:
    return {"host": "127.0.0.1", "port": port, "database": "potluck", "sslmode": "disable"}


def _repo_config(engine: str, base: Path, port: int, sources: list[str]) -> dict[str, Any]:
    if engine == "potluck":
        offline: dict[str, Any] = {
            "type": "potluck.offline.store.FederatedOfflineStore",
            "sources": {s: {"kind": "postgres", "options": _pg_options(port)} for s in sources},
        }
    else:
        offline = {
            "type": "postgres",
            "host": "127.0.0.1",
            "port": port,
            "database": "potluck",
            "db_schema": "public",
            "user": "postgres",
            "password": "",
            "sslmode": "disable",
        }
    repo = base / engine
    repo.mkdir(parents=True, exist_ok=True)
    return {
        "project": "bench_pg",
        "provider": "local",
        "registry": str(repo / "registry.db"),
        "offline_store": offline,
        "online_store": {"type": "sqlite", "path": str(repo / "online.db")},
        "entity_key_serialization_version": 3,
        "repo_path": str(repo),
    }


def _objects(engine: str) -> list[Any]:
    """The healthcare views: as they are (PotluckSource), or over ``PostgreSQLSource``s."""
    from feast import FeatureView, Field
    from feast.infra.offline_stores.contrib.postgres_offline_store.postgres_source import (
        PostgreSQLSource,
    )
    from feast.types import String

    from potluck.domains.healthcare import features as hc

    if engine == "potluck":
        return [hc.patient, *hc.FEATURE_VIEWS]
    key = Field(name="patient_id", dtype=String)
    views = [
        FeatureView(
            name=view.name,
            entities=[hc.patient],
            ttl=view.ttl,
            schema=[key, *view.features],
            source=PostgreSQLSource(
                name=f"pg_{view.batch_source.name}",
                table=view.batch_source.table,
                timestamp_field=view.batch_source.timestamp_field,
            ),
            online=view.online,
        )
        for view in hc.FEATURE_VIEWS
    ]
    return [hc.patient, *views]


def _refs() -> list[str]:
    """Every non-PII feature of the six views (stroke_risk_full without the on-demand view)."""
    from potluck.domains.healthcare import features as hc

    return [
        f"{view.name}:{f.name}"
        for view in hc.FEATURE_VIEWS
        for f in view.features
        if f.tags.get("pii") != "true"
    ]


# ---------------------------------------------------------------- children (fresh processes)
def _apply(engine: str, config: dict[str, Any]) -> dict[str, Any]:
    from feast import FeatureStore, RepoConfig

    FeatureStore(config=RepoConfig(**config)).apply(_objects(engine))
    return {}


def _training_set(config: dict[str, Any], entity_path: str, out_path: str) -> dict[str, Any]:
    import pandas as pd
    from feast import FeatureStore, RepoConfig

    store = FeatureStore(config=RepoConfig(**config))
    entity = pd.read_parquet(entity_path)
    refs = _refs()
    seconds = []
    for _ in range(2):  # the first call pays lazy imports and connections; the second not
        started = time.perf_counter()
        table = store.get_historical_features(entity_df=entity, features=refs).to_arrow()
        seconds.append(time.perf_counter() - started)
    pq.write_table(table, out_path)
    return {
        "training_set_s": round(seconds[0], 3),
        "training_set_warm_s": round(seconds[1], 3),
        "training_set_rows": table.num_rows,
    }


def _pull(engine: str, config: dict[str, Any], port: int) -> dict[str, Any]:
    start, end = AS_OF - WINDOW - timedelta(days=1), AS_OF + timedelta(days=1)
    columns = ["patient_id", *PULL_FEATURES, "visit_date"]
    if engine == "potluck":
        from potluck.connectors import ReadRequest, open_connector

        connector = open_connector("pull", "postgres", _pg_options(port))
        request = ReadRequest(
            PULL_TABLE, columns=columns, timestamp_column="visit_date", start=start, end=end
        )
        started = time.perf_counter()
        table = connector.read(request)
    else:
        from feast import RepoConfig
        from feast.infra.offline_stores.contrib.postgres_offline_store.postgres import (
            PostgreSQLOfflineStore,
        )
        from feast.infra.offline_stores.contrib.postgres_offline_store.postgres_source import (
            PostgreSQLSource,
        )

        source = PostgreSQLSource(name="pull", table=PULL_TABLE, timestamp_field="visit_date")
        started = time.perf_counter()
        table = PostgreSQLOfflineStore.pull_all_from_table_or_query(
            config=RepoConfig(**config),
            data_source=source,
            join_key_columns=["patient_id"],
            feature_name_columns=PULL_FEATURES,
            timestamp_field="visit_date",
            start_date=start,
            end_date=end,
        ).to_arrow()
    seconds = time.perf_counter() - started
    glucose = table.column("avg_glucose_level").to_numpy(zero_copy_only=False)
    return {
        "pull_s": round(seconds, 3),
        "pull_rows": table.num_rows,
        "pull_rows_per_s": round(table.num_rows / seconds),
        "pull_checksum": round(float(np.nansum(glucose)), 3),
    }


# ---------------------------------------------------------------- data
def _load(port: int, patients: int, pull_rows: int) -> tuple[dict[str, int], pa.Array]:
    """Sources + engineered views as PostgreSQL tables (COPY through the connector)."""
    from potluck.connectors import open_connector
    from potluck.domains.healthcare.deployment import engineer as compute
    from potluck.domains.healthcare.deployment import snapshots as snapshot_times
    from potluck.domains.healthcare.synth import generate

    tables = generate(patients, 42, AS_OF)
    tables.update(compute(tables, snapshot_times(tables["stroke_outcomes"], AS_OF)))
    connector = open_connector("bench", "postgres", _pg_options(port))
    rows = {name: connector.write(name, table) for name, table in tables.items()}
    rng = np.random.default_rng(3)
    micros = int(AS_OF.timestamp() * 1e6) - rng.integers(
        0, WINDOW // timedelta(microseconds=1), pull_rows
    )
    pull = pa.table(
        {
            "patient_id": pa.array(
                np.char.add("P", np.char.zfill((np.arange(pull_rows) % 100_000 + 1).astype(str), 8))
            ),
            "visit_date": pa.array(micros, pa.timestamp("us", "UTC")),
            "avg_glucose_level": rng.normal(110, 25, pull_rows),
            "bmi": rng.normal(27, 5, pull_rows),
            "blood_pressure_systolic": rng.integers(90, 200, pull_rows),
            "heart_rate": rng.integers(50, 110, pull_rows),
        }
    )
    rows[PULL_TABLE] = connector.write(PULL_TABLE, pull)
    connector.close()
    # Statistics, as any live database has them (autovacuum would gather them within a
    # minute anyway): plans, and so timings, do not depend on when it happened to run.
    import psycopg

    with psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="potluck") as conn:
        conn.execute("ANALYZE")
    return rows, tables["clinical_measurements"].column("patient_id").unique()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--rows", type=int, default=10_000, help="entity rows of the training set")
    parser.add_argument("--pull-rows", type=int, default=1_000_000)
    parser.add_argument("--timeout", type=float, default=900, help="seconds per measurement")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()

    from potluck import devservices

    base = Path(tempfile.mkdtemp(prefix="potluck-bench-pg-"))
    server = devservices.start_postgres(base / "server", devservices.free_port())
    try:
        print(f"PostgreSQL on 127.0.0.1:{server.port}; loading {args.patients:,} patients ...")
        loaded, patient_ids = _load(server.port, args.patients, args.pull_rows)
        sources = [n for n in loaded if n != PULL_TABLE]
        configs = {e: _repo_config(e, base / "repos", server.port, sources) for e in ENGINES}
        entity_path = base / "entity.parquet"
        entity_frame(patient_ids, args.rows).to_parquet(entity_path)
        results: dict[str, dict[str, Any]] = {}
        for engine in ENGINES:
            applied = run_child(_apply, {"engine": engine, "config": configs[engine]}, args.timeout)
            if applied["status"] != "ok":
                raise SystemExit(f"{engine} apply failed: {applied}")
            out = base / f"{engine}.parquet"
            print(f"{LABELS[engine]}: training set of {args.rows:,} rows ...")
            training = run_child(
                _training_set,
                {"config": configs[engine], "entity_path": str(entity_path), "out_path": str(out)},
                args.timeout,
            )
            print(f"{LABELS[engine]}: pull of {args.pull_rows:,} rows ...")
            pull = run_child(
                _pull,
                {"engine": engine, "config": configs[engine], "port": server.port},
                args.timeout,
            )
            results[engine] = {**training, **pull}
        for engine, result in results.items():
            if result.get("status") != "ok" or "training_set_s" not in result:
                raise SystemExit(f"{engine} failed: {result}")
        check = compare(
            pq.read_table(base / "feast.parquet"),
            pq.read_table(base / "potluck.parquet"),
            allow_missing_rows=False,
        )
        same_pull = results["potluck"]["pull_rows"] == results["feast"]["pull_rows"] and abs(
            results["potluck"]["pull_checksum"] - results["feast"]["pull_checksum"]
        ) < 1e-3 * max(1.0, abs(results["feast"]["pull_checksum"]))
    finally:
        devservices.stop(server)
        shutil.rmtree(base, ignore_errors=True)

    keys = [
        "training_set_s",
        "training_set_warm_s",
        "training_set_rows",
        "pull_s",
        "pull_rows",
        "pull_rows_per_s",
    ]
    report = {engine: {k: results[engine][k] for k in keys} for engine in ENGINES}
    print(f"\n{'':28}{'training set (s)':>18}{'again (s)':>11}{'pull (s)':>10}{'pull rows/s':>14}")
    for engine in ENGINES:
        r = report[engine]
        print(
            f"{LABELS[engine]:28}{r['training_set_s']:>18.3f}{r['training_set_warm_s']:>11.3f}"
            f"{r['pull_s']:>10.3f}{r['pull_rows_per_s']:>14,}"
        )
    speedup = report["feast"]["training_set_s"] / report["potluck"]["training_set_s"]
    print(f"training set: {speedup:.1f}x faster; equal value for value: {not check['problems']}")
    print(f"pull: same rows and checksum: {same_pull}")
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(report, indent=2))
        print(f"wrote {args.json_out}")
    if check["problems"] or not same_pull:
        print("RESULTS DIFFER:", check["problems"] or "pull", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
