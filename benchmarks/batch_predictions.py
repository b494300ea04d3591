"""Batch predictions end to end: ``POST /predictions/batch`` beside plain Feast + the same model.

    .venv/bin/python benchmarks/batch_predictions.py [--patients 20000] [--rows 100000,1000000]
        [--repeat 2] [--json-out FILE]

One embedded deployment (SQLite, JSON-lines and Parquet sources) is seeded into a temporary
home and a ``stroke_risk_v1`` model is trained and registered. For each size an entity frame
(``row_id``, ``patient_id``, ``event_timestamp`` over the data window) is written to the API's
batch folder; the potluck figure is one ``POST /predictions/batch`` through the real ASGI app
(read the frame, point-in-time join across the sources, score, write Parquet). The Feast figure
does the same work with plain Feast on the same data written as Parquet (``FileSource`` views,
Feast's DuckDB offline store): ``get_historical_features(...).to_df()``, the same registered
pipeline's ``predict_proba``, Parquet written. Both outputs are checked equal (same rows, same
probabilities) before any timing is printed. Best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent))
import _common as c

console = Console()
SERVICE = "stroke_risk_v1"
KEY = "bench-key"


def setup_potluck(home: Path, patients: int, as_of: datetime) -> Any:
    from potluck.features.repo import FeatureRepo
    from potluck.settings import Settings
    from potluck.workflows import data, modeling

    settings = Settings(home=home, profile="embedded", api_keys={KEY: "read"})
    data.seed(settings, size=patients, seed=42, as_of=as_of)
    repo = FeatureRepo(settings)
    repo.apply()
    data.engineer(settings)
    modeling.build_training_set(settings, repo, SERVICE)
    modeling.train_model(settings, "sklearn")
    return settings


def run_potluck(client: Any, name: str) -> tuple[float, str]:
    started = time.perf_counter()
    response = client.post(
        "/predictions/batch",
        headers={"Authorization": f"Bearer {KEY}"},
        json={"input_path": f"in/{name}", "output": "parquet", "output_path": f"out/{name}"},
    )
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise SystemExit(f"potluck batch failed: {response.status_code} {response.text[:1000]}")
    return elapsed, response.json()["output_path"]


def run_feast(store: Any, service: Any, loaded: Any, entity: Any, out: Path) -> float:
    from potluck.ml.train import to_model_frame

    started = time.perf_counter()
    frame = store.get_historical_features(entity_df=entity.copy(), features=service).to_df()
    x = to_model_frame(frame, loaded.features, loaded.categorical)
    frame["probability"] = loaded.model.predict_proba(x)[:, 1]
    result = pa.Table.from_pandas(
        frame[[c.ROW_ID, "patient_id", "event_timestamp", "probability"]], preserve_index=False
    )
    pq.write_table(result, out, coerce_timestamps="us")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--patients", type=int, default=20_000)
    parser.add_argument("--rows", default="100000,1000000")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    c.quiet()
    from fastapi.testclient import TestClient
    from feast import FeatureStore, RepoConfig

    from potluck.api.main import create_app
    from potluck.ml.registry import load_model

    root = Path(tempfile.mkdtemp(prefix="potluck_bench_batch_"))
    as_of = c.AS_OF
    console.print(f"seeding {args.patients:,} patients and training ...")
    settings = setup_potluck(root / "home", args.patients, as_of)
    loaded = load_model(settings)
    # Plain Feast on the same data as Parquet (same generator, seed and anchor).
    c.write_dataset(root / "parquet", args.patients, seed=42, as_of=as_of)
    configs = c.repo_configs(root / "feast_repos", root / "parquet", [])
    c.apply_repo(configs["feast"], c.file_source_objects(root / "parquet"))
    store = FeatureStore(config=RepoConfig(**configs["feast"]))
    service = store.get_feature_service(SERVICE)
    batch = settings.home.resolve() / "batch"
    (batch / "in").mkdir(parents=True, exist_ok=True)
    ids = pa.array([f"P{i:08d}" for i in range(1, args.patients + 1)])
    results: dict[str, dict[str, Any]] = {"potluck": {}, "feast": {}}
    with TestClient(create_app(settings)) as client:
        for rows in (int(r) for r in args.rows.split(",")):
            entity = c.entity_frame(ids, rows, as_of=as_of)
            name = f"entities_{rows}.parquet"
            pq.write_table(
                pa.Table.from_pandas(entity, preserve_index=False),
                batch / "in" / name,
                coerce_timestamps="us",
            )
            p_times, f_times = [], []
            for _ in range(args.repeat):
                seconds, out = run_potluck(client, name)
                p_times.append(seconds)
                f_times.append(
                    run_feast(store, service, loaded, entity, root / f"feast_{rows}.parquet")
                )
            ours = pq.read_table(batch / out).sort_by(c.ROW_ID)
            theirs = pq.read_table(root / f"feast_{rows}.parquet").sort_by(c.ROW_ID)
            if ours.num_rows != rows or theirs[c.ROW_ID].to_pylist() != ours[c.ROW_ID].to_pylist():
                raise SystemExit(
                    f"row mismatch at {rows}: potluck {ours.num_rows}, feast {theirs.num_rows}"
                )
            diff = np.abs(ours["probability"].to_numpy() - theirs["probability"].to_numpy())
            if not np.all(diff < 1e-9):
                raise SystemExit(f"probabilities differ at {rows} rows: max {diff.max()}")
            for side, times in (("potluck", p_times), ("feast", f_times)):
                best = min(times)
                results[side][f"rows_{rows}_seconds"] = round(best, 3)
                results[side][f"rows_{rows}_rows_per_s"] = round(rows / best)
    table = Table(title=f"batch predictions end to end ({args.patients:,} patients, embedded)")
    table.add_column("metric")
    table.add_column("potluck API", justify="right")
    table.add_column("Feast DuckDB + model", justify="right")
    for key in results["potluck"]:
        table.add_row(key, f"{results['potluck'][key]:,}", f"{results['feast'][key]:,}")
    console.print(table)
    meta = {
        "patients": args.patients,
        "repeat": args.repeat,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
    }
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps({**results, "meta": meta}, indent=2))


if __name__ == "__main__":
    main()
