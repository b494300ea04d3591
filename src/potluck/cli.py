"""The ``potluck`` command line (typer + rich).

Each command is a thin layer over ``potluck.workflows``; Feast, MLflow and the
drivers are imported inside commands so ``potluck --help`` stays fast. Every
:class:`PotluckError` becomes a one-line red message and a non-zero exit code;
no stack trace reaches a user unless ``POTLUCK_DEBUG=1``.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from potluck.errors import PotluckError
from potluck.settings import Settings, today_utc

__all__ = ["app", "main"]

app = typer.Typer(
    help="potluck: a polyglot feature platform on Feast.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
err = Console(stderr=True)

JsonOut = Annotated[
    Path | None, typer.Option("--json-out", help="Also write the result as JSON here.")
]
Patients = Annotated[
    int | None, typer.Option("--patients", "-n", help="Synthetic patients (default: settings).")
]
Seed = Annotated[int | None, typer.Option("--seed", help="Random seed (default: settings).")]
AsOf = Annotated[
    str | None, typer.Option("--as-of", help="Anchor date of the data, ISO (default: today UTC).")
]


def _settings() -> Settings:
    return Settings()


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def _as_of(value: str | None) -> datetime:
    if value is None:
        return today_utc()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise PotluckError(f"--as-of must be an ISO date or datetime, got {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _emit(result: Any, json_out: Path | None) -> None:
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(result, indent=2, default=str))
        console.print(f"[dim]wrote {json_out}[/dim]")


def _table(title: str, rows: dict[str, Any]) -> Table:
    table = Table(title=title, show_header=False)
    for key, value in rows.items():
        table.add_row(str(key), str(value))
    return table


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

    settings = _settings()
    with _progress() as progress:
        summary = run_demo(
            settings,
            patients=patients or settings.patients,
            seed=seed if seed is not None else settings.seed,
            as_of=_as_of(as_of),
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
    _emit(summary, json_out)


@app.command()
def seed(
    patients: Patients = None, seed: Seed = None, as_of: AsOf = None, json_out: JsonOut = None
) -> None:
    """Generate synthetic data and write each source to its connector."""
    from potluck.workflows.data import seed as run_seed

    settings = _settings()
    with console.status("seeding sources"):
        rows = run_seed(
            settings,
            patients=patients or settings.patients,
            seed=seed if seed is not None else settings.seed,
            as_of=_as_of(as_of),
        )
    console.print(_table("rows written", rows))
    _emit(rows, json_out)


@app.command()
def apply(json_out: JsonOut = None) -> None:
    """Register the healthcare feature repository in the Feast registry."""
    from potluck.features.repo import FeatureRepo

    with console.status("applying feature repository"):
        counts = FeatureRepo(_settings()).apply()
    console.print(_table("registry", counts))
    _emit(counts, json_out)


@app.command()
def engineer(json_out: JsonOut = None) -> None:
    """Compute the engineered risk features point-in-time (pandas/DuckDB engine)."""
    from potluck.workflows.data import engineer as run_engineer

    with console.status("engineering features"):
        rows = run_engineer(_settings())
    console.print(_table("engineered rows", rows))
    _emit(rows, json_out)


@app.command("training-set")
def training_set(
    service: Annotated[str, typer.Option(help="Feature service.")] = "stroke_risk_v1",
    json_out: JsonOut = None,
) -> None:
    """Build the labelled training set joined across all sources in one call."""
    from potluck.features.repo import FeatureRepo
    from potluck.workflows.modeling import build_training_set, training_set_path

    settings = _settings()
    with console.status("point-in-time join across sources"):
        table = build_training_set(settings, FeatureRepo(settings), service)
    result = {
        "rows": table.num_rows,
        "columns": table.column_names,
        "path": str(training_set_path(settings)),
    }
    console.print(_table("training set", {**result, "columns": ", ".join(table.column_names)}))
    _emit(result, json_out)


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
        summary = train_model(_settings(), framework)  # type: ignore[arg-type]
    console.print(_table("model", asdict(summary)))
    _emit(asdict(summary), json_out)


@app.command()
def materialize(
    incremental: Annotated[
        bool, typer.Option("--incremental", help="Only rows since the last run.")
    ] = False,
    json_out: JsonOut = None,
) -> None:
    """Materialize feature views into the online store."""
    from potluck.features.repo import FeatureRepo
    from potluck.online.materialize import materialize as run_materialize

    repo = FeatureRepo(_settings())
    views = [v.name for v in repo.store.list_feature_views() if v.online]
    with _progress() as progress:
        task = progress.add_task("materializing", total=len(views))

        def done(name: str, rows: int) -> None:
            progress.update(task, advance=1, description=f"{name}: {rows:,} rows")

        summary = run_materialize(repo, incremental=incremental, on_view_done=done)
    console.print(_table("materialized rows", summary.rows))
    _emit(
        {"rows": summary.rows, "total_rows": summary.total_rows, "end": summary.end.isoformat()},
        json_out,
    )


@app.command()
def online(
    patient_ids: Annotated[list[str], typer.Argument(help="Patient ids, e.g. P00000001.")],
    service: Annotated[str, typer.Option(help="Feature service.")] = "stroke_risk_v1",
    json_out: JsonOut = None,
) -> None:
    """Read online features for patients."""
    from potluck.features.repo import FeatureRepo
    from potluck.online.reads import online_features

    rows = online_features(FeatureRepo(_settings()), service, patient_ids)
    for row in rows:
        console.print(
            _table(row["patient_id"], {k: v for k, v in row.items() if k != "patient_id"})
        )
    _emit(rows, json_out)


@app.command()
def predict(
    patient_ids: Annotated[list[str], typer.Argument(help="Patient ids, e.g. P00000001.")],
    version: Annotated[int | None, typer.Option(help="Model version (default latest).")] = None,
    json_out: JsonOut = None,
) -> None:
    """Predict stroke risk for patients from their online features."""
    from potluck.features.repo import FeatureRepo
    from potluck.workflows.modeling import predict_online

    settings = _settings()
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
    _emit(rows, json_out)


def main() -> None:
    """Entry point: run the app, turning potluck errors into clean messages."""
    try:
        app(standalone_mode=False)
    except PotluckError as exc:
        err.print(f"[bold red]error[/bold red] ({exc.code}): {exc.message}")
        sys.exit(1)
    except (typer.Exit, SystemExit) as exc:
        code = getattr(exc, "exit_code", getattr(exc, "code", 0))
        sys.exit(code if isinstance(code, int) else 0)
    except Exception as exc:
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(130)
        if os.environ.get("POTLUCK_DEBUG"):
            raise
        err.print(
            f"[bold red]internal error[/bold red]: {type(exc).__name__}: {exc} "
            "(set POTLUCK_DEBUG=1 for a traceback)"
        )
        sys.exit(3)


if __name__ == "__main__":
    main()
