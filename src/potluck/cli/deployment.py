"""Commands of the deployment's steps: demo, seed, apply, engineer, training-set,
train, predict (materialize and online live in ``online.py``)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from potluck.cli._app import (
    AsOf,
    JsonOut,
    Patients,
    Seed,
    app,
    as_of_option,
    console,
    emit,
    kv_table,
    load_settings,
    new_progress,
)
from potluck.errors import PotluckError

__all__: list[str] = []


@app.command()
def demo(
    patients: Patients = None,
    seed: Seed = None,
    as_of: AsOf = None,
    json_out: JsonOut = None,
    framework: Annotated[str, typer.Option(help="sklearn | xgboost")] = "sklearn",
) -> None:
    """Run the stroke-risk deployment end to end on the active profile."""
    from potluck.workflows.demo import run_demo

    settings = load_settings()
    with new_progress() as progress:
        summary = run_demo(
            settings,
            patients=patients or settings.patients,
            seed=seed if seed is not None else settings.seed,
            as_of=as_of_option(as_of),
            framework=framework,
            progress=progress,
        )
    table = Table(title=f"potluck demo - profile {summary['profile']}")
    table.add_column("what")
    table.add_column("value")
    table.add_row("patients", str(summary["patients"]))
    for name, count in summary["sources"].items():
        table.add_row(f"rows: {name}", f"{count:,}")
    ts = summary["training_set"]
    table.add_row("training set", f"{ts['rows']:,} rows x {ts['columns']} columns")
    model = summary["model"]
    table.add_row("model", f"{model['name']} v{model['version']}")
    table.add_row("test ROC AUC / oracle", f"{model['auc']:.3f} / {model['oracle_auc']:.3f}")
    table.add_row("materialized rows", f"{summary['materialized_rows']:,}")
    for sample in summary["online_sample"]:
        table.add_row(f"online {sample['patient_id']}", str(sample["stroke_probability"]))
    for name, seconds in summary["timings_s"].items():
        table.add_row(f"time: {name}", f"{seconds:.2f} s")
    console.print(table)
    emit(summary, json_out)


@app.command()
def seed(
    patients: Patients = None, seed: Seed = None, as_of: AsOf = None, json_out: JsonOut = None
) -> None:
    """Generate synthetic data and write each source to its connector."""
    from potluck.workflows.data import seed as run_seed

    settings = load_settings()
    with console.status("seeding sources"):
        rows = run_seed(
            settings,
            patients=patients or settings.patients,
            seed=seed if seed is not None else settings.seed,
            as_of=as_of_option(as_of),
        )
    console.print(kv_table("rows written", rows))
    emit(rows, json_out)


@app.command()
def apply(json_out: JsonOut = None) -> None:
    """Register the healthcare feature repository in the Feast registry."""
    from potluck.features.repo import FeatureRepo

    with console.status("applying feature repository"):
        counts = FeatureRepo(load_settings()).apply()
    console.print(kv_table("registry", counts))
    emit(counts, json_out)


@app.command()
def engineer(json_out: JsonOut = None) -> None:
    """Compute the engineered risk features point-in-time (engine: POTLUCK_ENGINEERING_ENGINE,
    auto = Spark on the services profile, pandas/DuckDB on embedded)."""
    from potluck.engineering.engines import resolve_engine
    from potluck.workflows.data import engineer_features

    settings = load_settings()
    engine = resolve_engine(settings.engineering_engine, settings.profile)
    with console.status(f"engineering features ({engine} engine)"):
        run = engineer_features(settings)
    console.print(kv_table(f"engineered rows - {run.engine} engine", run.rows))
    # The rows per view stay top-level keys, as before the engine was reported.
    emit({"engine": run.engine, "compute_s": run.compute_s, **run.rows}, json_out)


@app.command("training-set")
def training_set(
    service: Annotated[str, typer.Option(help="Feature service.")] = "stroke_risk_v1",
    json_out: JsonOut = None,
) -> None:
    """Build the labelled training set joined across all sources in one call."""
    from potluck.features.repo import FeatureRepo
    from potluck.workflows.modeling import build_training_set, training_set_path

    settings = load_settings()
    with console.status("point-in-time join across sources"):
        table = build_training_set(settings, FeatureRepo(settings), service)
    result = {
        "rows": table.num_rows,
        "columns": table.column_names,
        "path": str(training_set_path(settings)),
    }
    console.print(kv_table("training set", {**result, "columns": ", ".join(table.column_names)}))
    emit(result, json_out)


@app.command()
def train(
    framework: Annotated[str, typer.Option(help="sklearn | xgboost")] = "sklearn",
    json_out: JsonOut = None,
) -> None:
    """Train on the training set, log to MLflow and register the model."""
    from dataclasses import asdict

    from potluck.workflows.modeling import train_model

    if framework not in ("sklearn", "xgboost"):
        raise PotluckError(f"--framework must be sklearn or xgboost, got {framework!r}")
    with console.status(f"training ({framework})"):
        summary = train_model(load_settings(), framework)  # type: ignore[arg-type]
    console.print(kv_table("model", asdict(summary)))
    emit(asdict(summary), json_out)


@app.command()
def predict(
    patient_ids: Annotated[list[str], typer.Argument(help="Patient ids, e.g. P00000001.")],
    version: Annotated[int | None, typer.Option(help="Model version (default latest).")] = None,
    json_out: JsonOut = None,
) -> None:
    """Predict stroke risk for patients from their online features."""
    from potluck.features.repo import FeatureRepo
    from potluck.workflows.modeling import predict_online

    settings = load_settings()
    rows = predict_online(settings, FeatureRepo(settings), patient_ids, version)
    table = Table(
        "patient_id", "stroke_probability", "status", "model_version", title="predictions"
    )
    for row in rows:
        table.add_row(
            row["patient_id"],
            str(row["stroke_probability"]),
            row["status"],
            str(row["model_version"]),
        )
    console.print(table)
    emit(rows, json_out)
