"""Quality gates: drift on 1M rows x 30 features and `potluck validate` on the demo data,
beside the closest plain-Feast equivalents, measured in the same run.

    .venv/bin/python benchmarks/drift.py [--rows 1000000] [--features 30] [--patients 10000]
        [--repeat 3] [--json-out FILE]

* drift: two synthetic tables (two thirds numeric, one third categorical columns); the
  current one shifts five numeric columns by half a standard deviation and two categorical
  ones' shares. ``potluck.quality.drift.drift`` must flag exactly those (checked before
  timings are printed). ``drift_s`` is the statistics alone (best of ``--repeat``),
  ``drift_report_s`` adds one plot per feature and the HTML report.
  Feast 0.67 has no drift or distribution-comparison facility: its only data-quality
  feature (``feast.dqm``, extra ``feast[ge]``) validates a dataset against a Great
  Expectations suite, needs ``great_expectations<1`` (not installed here) and compares
  no two distributions, so the Feast side is ``null`` with that reason in ``meta``.
* validate: the demo data (``--patients``, default the demo's 10,000) seeded, applied,
  engineered and materialized into a temporary home. ``validate_s`` is one
  ``validate()`` call in a fresh process (imports excluded, store construction
  included); ``validate_cli_s`` the whole ``potluck validate`` command. The Feast side
  of ``validate_s`` runs, in a fresh process on the same repository, what plain Feast
  offers for the same ground: every data source's ``validate`` and
  ``get_table_column_names_and_types``, every view and service looked up, and
  ``get_historical_features`` + ``get_online_features`` per service for the same 20
  entities. It compares nothing to a declared schema and stops at the first error.
  Feast's CLI has no validate command (``feast plan`` diffs definitions and reads no
  data): ``validate_cli_s`` is ``null`` on the Feast side.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from rich.console import Console
from rich.markup import escape
from rich.table import Table

import _common as c

console = Console(width=None if sys.stdout.isatty() else 150)
SHIFTED_NUMERIC, SHIFTED_CATEGORICAL = 5, 2
SAMPLE = 20


# --------------------------------------------------------------------------- drift
def synthetic(rows: int, features: int, shifted: bool, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    numeric = features * 2 // 3
    columns: dict[str, Any] = {}
    for i in range(numeric):
        scale = 1 + i / 10
        shift = 0.5 * scale if shifted and i < SHIFTED_NUMERIC else 0.0
        columns[f"num_{i:02d}"] = rng.normal(i + shift, scale, rows)
    labels = np.array(["alpha", "beta", "gamma", "delta", "epsilon"])
    for i in range(features - numeric):
        moved = shifted and i < SHIFTED_CATEGORICAL
        p = [0.2, 0.25, 0.15, 0.2, 0.2] if moved else [0.4, 0.25, 0.15, 0.1, 0.1]
        columns[f"cat_{i:02d}"] = pa.array(labels[rng.choice(5, rows, p=p)])
    return pa.table(columns)


def expected_drift(features: int) -> list[str]:
    numeric = features * 2 // 3
    return sorted(
        [f"num_{i:02d}" for i in range(min(SHIFTED_NUMERIC, numeric))]
        + [f"cat_{i:02d}" for i in range(min(SHIFTED_CATEGORICAL, features - numeric))]
    )


def measure_drift(rows: int, features: int, repeat: int, out_dir: str) -> dict[str, Any]:
    from potluck.quality._html import write_report
    from potluck.quality.drift import drift

    reference = synthetic(rows, features, False, 1)
    current = synthetic(rows, features, True, 2)
    times = []
    report = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        report = drift(reference, current, plots=False)
        times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    full = drift(reference, current, plots=True)
    html = write_report(full, Path(out_dir))
    report_s = time.perf_counter() - t0
    assert report is not None
    return {
        "drift_s": round(min(times), 3),
        "drift_median_s": round(float(np.median(times)), 3),
        "drift_report_s": round(report_s, 3),
        "drifted": sorted(report.summary["drifted"]),
        "html": str(html),
        "html_mb": round(html.stat().st_size / 1e6, 2),
        "peak_rss_mb": round(c.peak_rss_mb(), 1),
    }


# --------------------------------------------------------------------------- validate
def seed_home(home: Path, patients: int) -> dict[str, Any]:
    from potluck.features.repo import FeatureRepo
    from potluck.online.materialize import materialize
    from potluck.settings import Settings
    from potluck.workflows import data

    as_of = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    settings = Settings(home=home)
    t0 = time.perf_counter()
    rows = data.seed(settings, size=patients, seed=42, as_of=as_of)
    repo = FeatureRepo(settings)
    repo.apply()
    rows.update(data.engineer(settings))
    materialize(repo, end=as_of)
    return {"rows": rows, "setup_s": round(time.perf_counter() - t0, 1)}


def potluck_validate(home: str) -> dict[str, Any]:
    from potluck.features.repo import FeatureRepo
    from potluck.quality.validate import validate
    from potluck.settings import Settings

    t0 = time.perf_counter()
    report = validate(FeatureRepo(Settings(home=Path(home))), sample=SAMPLE)
    seconds = time.perf_counter() - t0
    return {
        "validate_s": round(seconds, 3),
        "passed": report.passed,
        "checks": len(report.findings),
    }


def feast_validate(home: str) -> dict[str, Any]:
    from feast import FeatureStore
    from feast.data_source import PushSource
    from feast.repo_config import RepoConfig

    from potluck.features.repo import FeatureRepo
    from potluck.profiles import repo_config_dict
    from potluck.quality._data import sample_entity_ids
    from potluck.settings import Settings

    settings = Settings(home=Path(home))
    ids = sample_entity_ids(FeatureRepo(settings), SAMPLE)  # same entities, untimed
    import pandas as pd

    t0 = time.perf_counter()
    config = RepoConfig(repo_path=settings.repo_dir, **repo_config_dict(settings))
    store = FeatureStore(config=config)
    for source in store.list_data_sources():
        if isinstance(source, PushSource):
            continue  # not readable itself: its batch source is listed and checked
        source.validate(config)
        list(source.get_table_column_names_and_types(config))
    for view in store.list_feature_views():
        store.get_feature_view(view.name)
    for odfv in store.list_on_demand_feature_views():
        store.get_on_demand_feature_view(odfv.name)
    services = [store.get_feature_service(s.name) for s in store.list_feature_services()]
    entity = pd.DataFrame({"patient_id": ids, "event_timestamp": pd.Timestamp.now(tz="UTC")})
    for service in services:
        store.get_historical_features(entity_df=entity.copy(), features=service).to_arrow()
        store.get_online_features(
            features=service, entity_rows=[{"patient_id": i} for i in ids]
        ).to_dict()
    return {"validate_s": round(time.perf_counter() - t0, 3), "passed": True}


def validate_cli(home: Path) -> dict[str, Any]:
    env = {**os.environ, "POTLUCK_HOME": str(home), "POTLUCK_PROFILE": "embedded"}
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "potluck.cli", "validate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return {"validate_cli_s": round(time.perf_counter() - t0, 3), "exit_code": proc.returncode}


# --------------------------------------------------------------------------- main
def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=30)
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    c.quiet()
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="potluck-bench-quality-") as tmp:
        work = Path(tmp)
        with console.status(f"drift on {args.rows:,} rows x {args.features} features ..."):
            drift = c.run_child(
                measure_drift,
                {
                    "rows": args.rows,
                    "features": args.features,
                    "repeat": args.repeat,
                    "out_dir": str(work),
                },
                timeout=900,
            )
        if drift["status"] != "ok":
            problems.append(f"drift: {drift}")
        elif drift["drifted"] != expected_drift(args.features):
            problems.append(
                f"drift flagged {drift['drifted']}, expected {expected_drift(args.features)}"
            )
        with console.status(f"seeding the demo data ({args.patients:,} patients) ..."):
            setup = seed_home(work / "home", args.patients)
        with console.status("potluck validate ..."):
            pot = c.run_child(potluck_validate, {"home": str(work / "home")}, timeout=600)
            cli = validate_cli(work / "home")
        with console.status("plain Feast equivalent ..."):
            feast = c.run_child(feast_validate, {"home": str(work / "home")}, timeout=600)
        for name, result in (("potluck validate", pot), ("feast validate", feast)):
            if result["status"] != "ok" or not result.get("passed"):
                problems.append(f"{name}: {result}")
        if cli["exit_code"] != 0:
            problems.append(f"potluck validate CLI exited {cli['exit_code']}")
    if problems:
        for problem in problems:
            console.print(f"[red]{problem}[/red]")
        return 1
    summary = {
        "potluck": {
            "drift_s": drift["drift_s"],
            "drift_report_s": drift["drift_report_s"],
            "validate_s": pot["validate_s"],
            "validate_cli_s": cli["validate_cli_s"],
        },
        "feast": {
            "drift_s": None,
            "drift_report_s": None,
            "validate_s": feast["validate_s"],
            "validate_cli_s": None,
        },
    }
    meta = {
        "rows": args.rows,
        "features": args.features,
        "patients": args.patients,
        "repeat": args.repeat,
        "drift_median_s": drift["drift_median_s"],
        "drift_peak_rss_mb": drift["peak_rss_mb"],
        "drift_html_mb": drift["html_mb"],
        "drifted": drift["drifted"],
        "validate_checks": pot["checks"],
        "demo_rows": setup["rows"],
        "demo_setup_s": setup["setup_s"],
        "feast_null_reasons": {
            "drift_s": "Feast 0.67 has no drift/distribution comparison; feast.dqm only "
            "validates one dataset against a Great Expectations suite (extra feast[ge], "
            "great_expectations<1, not installed)",
            "drift_report_s": "no Feast drift report exists",
            "validate_cli_s": "Feast's CLI has no validate command; `feast plan` diffs "
            "definitions and reads no data",
        },
        "feast_validate_covers": "data source validate + column inference, view/service "
        "lookups, one historical and one online read per service (no declared-schema "
        "comparison, stops at the first error)",
        "targets": {"drift_s": 20.0, "validate_cli_s": 30.0},
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
    }
    table = Table(title="Quality gates: potluck vs plain Feast (seconds, lower is better)")
    for column in ("measure", "potluck", "Feast", "target"):
        table.add_column(column)
    for key in summary["potluck"]:
        feast_value = summary["feast"][key]
        table.add_row(
            key,
            f"{summary['potluck'][key]:.2f}",
            "n/a" if feast_value is None else f"{feast_value:.2f}",
            str(meta["targets"].get(key, "")),
        )
    console.print(table)
    reasons = escape(json.dumps(meta["feast_null_reasons"], indent=1))  # "feast[ge]" is text
    console.print(f"[dim]Feast n/a: {reasons}[/dim]")
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps({**summary, "meta": meta}, indent=2) + "\n")
        console.print(f"wrote {args.json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
