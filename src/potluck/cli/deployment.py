"""Commands of the deployment's steps: demo, seed, apply, engineer, training-set,
train, predict (materialize and online live in ``online.py``; load and init in
``project.py``)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from potluck.cli._app import (
    AsOf,
    DeploymentOption,
    JsonOut,
    Seed,
    Size,
    app,
    as_of_option,
    console,
    emit,
    kv_table,
    load_settings,
    new_progress,
    use_deployment,
)
from potluck.errors import PotluckError

__all__: list[str] = []

FRAMEWORKS = ("sklearn", "xgboost", "lightgbm")
Framework = Annotated[
    str | None, typer.Option(help="sklearn | xgboost | lightgbm (default: the deployment's).")
]


def _framework(value: str | None) -> str | None:
    if value is not None and value not in FRAMEWORKS:
        raise PotluckError(f"--framework must be one of {', '.join(FRAMEWORKS)}, got {value!r}")
    return value


@app.command()
def demo(
    deployment: DeploymentOption = None,
    size: Size = None,
    seed: Seed = None,
    as_of: AsOf = None,
    json_out: JsonOut = None,
    framework: Framework = None,
) -> None:
    """Run the active deployment end to end on the active profile."""
    from potluck.deployment import active_deployment
    from potluck.workflows.demo import run_demo

    use_deployment(deployment)
    settings = load_settings()
    chosen = active_deployment(settings)
    with new_progress() as progress:
        summary = run_demo(
            settings,
            size=size or settings.size or chosen.default_size,
            seed=seed if seed is not None else settings.seed,
            as_of=as_of_option(as_of),
            framework=_framework(framework),
            progress=progress,
        )
    table = Table(title=f"potluck demo - {summary['deployment']} - profile {summary['profile']}")
    table.add_column("what")
    table.add_column("value")
    table.add_row(summary["entity_noun"], str(summary["entities"]))
    for name, count in summary["sources"].items():
        table.add_row(f"rows: {name}", f"{count:,}")
    ts = summary["training_set"]
    table.add_row("training set", f"{ts['rows']:,} rows x {ts['columns']} columns")
    model = summary["model"]
    table.add_row("model", f"{model['name']} v{model['version']} ({model['task']})")
    metric = model["metric"]
    oracle = model["oracle"].get(f"oracle_{metric}", model["oracle"].get("oracle_auc"))
    shown = f"{model['value']:.3f}" + (f" / oracle {oracle:.3f}" if oracle is not None else "")
    table.add_row(f"test {metric}", shown)
    batch = summary.get("batch_scores")
    if batch and batch.get("table"):
        table.add_row("batch scores", f"{batch['rows']:,} rows -> {batch['table']}")
    table.add_row("materialized rows", f"{summary['materialized_rows']:,}")
    for sample in summary["online_sample"]:
        table.add_row(f"online {sample['entity']}", f"{sample['prediction']} ({sample['status']})")
    push = summary.get("push")
    if push:
        table.add_row(
            f"push {push['push_source']} (online only)",
            f"{push['rows']} rows for {push['entity']}: "
            f"{len(push['changed'])} {push['service']} values changed",
        )
        for name, (old, new) in list(push["changed"].items())[:8]:
            table.add_row(f"  {name}", f"{old} -> {new}")
        table.add_row(
            "materialize --incremental",
            f"{push['incremental_rows']:,} rows; pushed values left: "
            f"{len(push['changed_after_incremental'])}",
        )
    stream = summary.get("stream")
    if stream:
        _stream_rows(table, stream)
    for name, seconds in summary["timings_s"].items():
        table.add_row(f"time: {name}", f"{seconds:.2f} s")
    console.print(table)
    emit(summary, json_out)


def _stream_rows(table: Table, stream: dict[str, Any]) -> None:
    """The demo's replay: throughput, freshness, alerts, and the online == offline proof."""
    rate = stream["events_per_s"]
    table.add_row(
        f"stream {stream['source']} (replayed)",
        f"{stream['applied']:,} events, {'-' if rate is None else f'{rate:,.0f}'} events/s, "
        f"{stream['dead']} dead-lettered",
    )
    table.add_row(
        "  freshness p50 / p99",
        f"{stream['freshness_p50_ms']} / {stream['freshness_p99_ms']} ms (append -> servable)",
    )
    table.add_row(
        "  online score p50 / p99",
        f"{stream['score_p50_ms']} / {stream['score_p99_ms']} ms (read at the event's time + model)",
    )
    table.add_row(
        f"  alerts (score >= {stream['alert_at']})",
        f"{stream['alerts']} ({stream['alerts_labelled_positive']} labelled positive; "
        f"{stream['positives']} positives replayed)",
    )
    for alert in stream["first_alerts"]:
        who = ", ".join(f"{k}={v}" for k, v in alert.items() if k not in ("at", "score"))
        table.add_row(f"    {who}", f"{alert['score']} at {alert['at']}")
    check = stream["online_equals_offline"]
    table.add_row(
        "  online == offline",
        f"{check['rows']:,} replayed rows, {check['mismatches']} values differ",
    )


@app.command()
def seed(
    size: Size = None, seed: Seed = None, as_of: AsOf = None, json_out: JsonOut = None
) -> None:
    """Generate the deployment's synthetic data and write each source to its connector."""
    from potluck.deployment import active_deployment
    from potluck.workflows.data import seed as run_seed

    settings = load_settings()
    chosen = active_deployment(settings)
    with console.status("seeding sources"):
        rows = run_seed(
            settings,
            size=size or settings.size or chosen.default_size,
            seed=seed if seed is not None else settings.seed,
            as_of=as_of_option(as_of),
        )
    console.print(kv_table("rows written", rows))
    emit(rows, json_out)


@app.command()
def apply(json_out: JsonOut = None) -> None:
    """Register the active deployment's feature repository in the Feast registry."""
    from potluck.features.repo import FeatureRepo

    with console.status("applying feature repository"):
        counts = FeatureRepo(load_settings()).apply()
    console.print(kv_table("registry", counts))
    emit(counts, json_out)


@app.command()
def engineer(
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Last snapshot time (default: the seed/load anchor, else "
            "the anchor source's latest time).",
        ),
    ] = None,
    json_out: JsonOut = None,
) -> None:
    """Compute the engineered features point-in-time (engine: POTLUCK_ENGINEERING_ENGINE,
    auto = Spark on the services profile, pandas/DuckDB on embedded)."""
    from potluck.engineering.engines import resolve_engine
    from potluck.workflows.data import engineer_features

    settings = load_settings()
    engine = resolve_engine(settings.engineering_engine, settings.profile)
    with console.status(f"engineering features ({engine} engine)"):
        run = engineer_features(settings, as_of=as_of_option(as_of) if as_of else None)
    console.print(kv_table(f"engineered rows - {run.engine} engine", run.rows))
    # The rows per view stay top-level keys, as before the engine was reported.
    emit({"engine": run.engine, "compute_s": run.compute_s, **run.rows}, json_out)


@app.command("training-set")
def training_set(
    service: Annotated[
        str | None, typer.Option(help="Feature service (default: the model's).")
    ] = None,
    json_out: JsonOut = None,
) -> None:
    """Build the labelled training set joined across all sources in one call."""
    from potluck.features.repo import FeatureRepo
    from potluck.quality.nulls import mostly_null
    from potluck.workflows.modeling import build_training_set, training_set_path

    settings = load_settings()
    with console.status("point-in-time join across sources"):
        table = build_training_set(settings, FeatureRepo(settings), service)
    warnings = mostly_null(table)
    result = {
        "rows": table.num_rows,
        "columns": table.column_names,
        "path": str(training_set_path(settings)),
        "warnings": warnings,
    }
    console.print(kv_table("training set", {**result, "columns": ", ".join(table.column_names)}))
    for warning in warnings:
        console.print(f"[yellow]warning[/yellow]: {warning}")
    emit(result, json_out)


@app.command()
def train(
    framework: Framework = None,
    split: Annotated[
        str, typer.Option(help="time (default: latest rows test) | random | stratified")
    ] = "time",
    seed: Annotated[int, typer.Option(help="Seed of the random/stratified split.")] = 0,
    json_out: JsonOut = None,
) -> None:
    """Train on the training set, log to MLflow and register the model."""
    from dataclasses import asdict

    from potluck.workflows.modeling import train_model

    if split not in ("time", "random", "stratified"):
        raise PotluckError(f"--split must be time, random or stratified, got {split!r}")
    chosen = _framework(framework)
    with console.status(f"training ({chosen or 'default framework'}, {split} split)"):
        summary = train_model(load_settings(), chosen, split=split, seed=seed)  # type: ignore[arg-type]
    console.print(kv_table("model", asdict(summary)))
    emit(asdict(summary), json_out)


@app.command()
def predict(
    entity_ids: Annotated[
        list[str], typer.Argument(help="Entity ids (k1=v1,k2=v2 for a composite key).")
    ],
    version: Annotated[int | None, typer.Option(help="Model version (default latest).")] = None,
    json_out: JsonOut = None,
) -> None:
    """Score entities with the registered model from their online features."""
    from potluck.features.repo import FeatureRepo
    from potluck.workflows.modeling import predict_online

    settings = load_settings()
    rows = predict_online(settings, FeatureRepo(settings), entity_ids, version)
    table = Table("entity", "prediction", "status", "model_version", title="predictions")
    for raw, row in zip(entity_ids, rows, strict=True):
        table.add_row(raw, str(row["prediction"]), row["status"], str(row["model_version"]))
    console.print(table)
    emit(rows, json_out)
