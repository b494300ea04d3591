"""Quality-gate commands: validate, consistency, audit, profile, drift, freshness, docs.

Each prints a rich table, writes ``--json-out`` when asked, writes an HTML report
under ``<home>/reports/`` where plots help (audit, profile, drift, freshness, docs)
and exits 1 when its gate fails, so cron and CI can act on it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from potluck.cli._app import JsonOut, app, console, emit, load_settings
from potluck.errors import ConfigurationError

if TYPE_CHECKING:
    import pyarrow as pa

    from potluck.features.repo import FeatureRepo
    from potluck.quality import Report

__all__: list[str] = []

Views = Annotated[
    list[str] | None, typer.Option("--view", help="Only this feature view (repeatable).")
]
_STYLE = {"pass": "green", "fail": "bold red", "warn": "yellow", "info": "dim"}


def _repo() -> FeatureRepo:
    from potluck.features.repo import FeatureRepo

    return FeatureRepo(load_settings())


def _reports_dir() -> Path:
    return load_settings().home.resolve() / "reports"


def _table(report: Report) -> Table:
    from potluck.quality._html import format_value

    table = Table(title=report.title)
    for column in ("check", "subject", "status", *report.columns, "detail"):
        table.add_column(column, overflow="fold")
    for f in report.findings:
        style = _STYLE.get(f.status, "")
        cells = [format_value(f.metrics.get(c)) for c in report.columns]
        table.add_row(f.check, f.subject, f"[{style}]{f.status}[/]", *cells, f.detail)
    return table


def _finish(report: Report, json_out: Path | None, *, html: bool) -> None:
    """Print, write the HTML and JSON, and exit 1 when the gate failed."""
    from potluck.quality._html import write_report

    console.print(_table(report))
    if html:
        path = write_report(report, _reports_dir())
        console.print(f"HTML report: {path}")
    emit(report.to_dict(), json_out)
    if report.passed:
        console.print(f"[green]{report.name}: passed[/green] ({len(report.warnings)} warnings)")
        return
    console.print(f"[bold red]{report.name}: {len(report.failures)} failure(s)[/bold red]")
    for f in report.failures:
        console.print(f"  [red]x[/red] {f.check} {f.subject}: {f.detail}")
    _fail()


def _fail() -> None:
    # SystemExit, not typer.Exit: the app runs with standalone_mode=False, where click
    # turns typer.Exit into a return value that potluck.cli.main does not propagate.
    raise SystemExit(1)


def _read_parquet(path: Path, what: str) -> pa.Table:
    import pyarrow.parquet as pq

    if not path.exists():
        raise ConfigurationError(f"{what} {path} does not exist")
    try:
        return pq.read_table(path)
    except Exception as exc:  # a corrupt file is a user error, not a crash
        raise ConfigurationError(f"{what} {path} is not readable Parquet: {exc}") from None


@app.command()
def validate(
    sample: Annotated[int, typer.Option(help="Sample entities to read.")] = 20,
    json_out: JsonOut = None,
) -> None:
    """Check sources, definitions, a historical retrieval and an online read, with timings."""
    from potluck.quality.validate import validate as run

    with console.status("validating"):
        report = run(_repo(), sample=sample)
    _finish(report, json_out, html=False)


@app.command()
def consistency(
    sample: Annotated[int, typer.Option(help="Sample entities to compare.")] = 200,
    view: Views = None,
    entity: Annotated[
        list[str] | None,
        typer.Option(help="Only this entity id, across all its views (repeatable)."),
    ] = None,
    entity_type: Annotated[
        str | None,
        typer.Option(help="The entity of --entity (default: views whose source holds the id)."),
    ] = None,
    json_out: JsonOut = None,
) -> None:
    """Online values vs offline point-in-time values as of the last materialization."""
    from potluck.quality.consistency import consistency as run

    with console.status("comparing online and offline values"):
        report = run(_repo(), sample=sample, views=view, entity_ids=entity, entity_type=entity_type)
    _finish(report, json_out, html=False)


@app.command()
def audit(
    training_set: Annotated[
        Path | None, typer.Option(help="Training set Parquet (default: the last one built).")
    ] = None,
    service: Annotated[
        str | None, typer.Option(help="Feature service (default: from the training set).")
    ] = None,
    max_auc: Annotated[float, typer.Option(help="Single-feature AUC that fails.")] = 0.9,
    max_null_rate: Annotated[float, typer.Option(help="Null rate that fails.")] = 0.8,
    json_out: JsonOut = None,
) -> None:
    """Leakage audit of a training set; writes a training-set report (HTML)."""
    from potluck.quality.leakage import audit as run
    from potluck.workflows.modeling import training_set_path

    path = training_set or training_set_path(load_settings())
    table = _read_parquet(path, "training set")
    with console.status("auditing the training set"):
        report = run(_repo(), table, service=service, max_auc=max_auc, max_null_rate=max_null_rate)
    report.summary["training_set"] = str(path)
    _finish(report, json_out, html=True)


@app.command()
def profile(
    view: Views = None,
    max_null_rate: Annotated[float, typer.Option(help="Null rate that fails.")] = 0.99,
    json_out: JsonOut = None,
) -> None:
    """Per feature: null rate, range, distinct values, outliers, staleness vs TTL."""
    from potluck.quality.profile import profile as run

    with console.status("profiling features"):
        report = run(_repo(), views=view, max_null_rate=max_null_rate)
    _finish(report, json_out, html=True)


@app.command()
def drift(
    reference: Annotated[Path, typer.Option(help="Reference training set (Parquet).")],
    current: Annotated[
        str,
        typer.Option(help="Current data: a Parquet file, or a window ('30d', 'START..END')."),
    ],
    service: Annotated[
        str | None, typer.Option(help="Feature service for a window (default: the reference's).")
    ] = None,
    psi_threshold: Annotated[float, typer.Option(help="PSI that counts as drift.")] = 0.2,
    ks_threshold: Annotated[float, typer.Option(help="KS statistic that counts as drift.")] = 0.1,
    json_out: JsonOut = None,
) -> None:
    """PSI/KS (numeric) and chi-square/PSI (categorical) per feature, with plots."""
    from potluck.deployment import active_deployment
    from potluck.quality.drift import current_from_window
    from potluck.quality.drift import drift as run

    ref = _read_parquet(reference, "reference")
    deployment = active_deployment(load_settings())
    skip = [k for e in deployment.entities for k in e.key_names]
    skip += sorted(deployment.label_columns)
    with console.status("measuring drift"):
        if Path(current).exists():
            cur = _read_parquet(Path(current), "current data")
            source = current
        else:
            cur = current_from_window(_repo(), ref, current, service=service)
            source = f"window {current}"
        report = run(ref, cur, skip=skip, psi_threshold=psi_threshold, ks_threshold=ks_threshold)
    report.summary.update(reference=str(reference), current=source)
    _finish(report, json_out, html=True)


@app.command()
def freshness(view: Views = None, json_out: JsonOut = None) -> None:
    """Last materialization and newest online value of each view vs its freshness_target tag."""
    from potluck.quality.freshness import freshness as run

    with console.status("checking freshness"):
        report = run(_repo(), views=view)
    _finish(report, json_out, html=True)


@app.command()
def docs(
    out: Annotated[
        Path | None, typer.Option(help="Output directory (default: <home>/reports).")
    ] = None,
    output_file: Annotated[
        Path | None,
        typer.Option(
            "--output-file",
            help="Markdown file to write, e.g. docs/FEATURES.md (the HTML goes beside it).",
        ),
    ] = None,
    json_out: JsonOut = None,
) -> None:
    """Generate the feature catalog (Markdown + static HTML) with lineage."""
    from potluck.quality.catalog import build_catalog, check_catalog, write_catalog

    with console.status("building the feature catalog"):
        catalog = build_catalog(_repo())
        md_path, html_path = write_catalog(catalog, out or _reports_dir(), output_file)
    report = check_catalog(catalog)
    report.html_path = html_path
    console.print(_table(report))
    console.print(f"Markdown: {md_path}\nHTML report: {html_path}")
    emit({**report.to_dict(), "markdown": str(md_path), "catalog": catalog}, json_out)
    if not report.passed:
        console.print(f"[bold red]docs: {len(report.failures)} failure(s)[/bold red]")
        _fail()
