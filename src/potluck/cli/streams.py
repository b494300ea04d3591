"""``potluck stream send | run | status | dead-letters | release``: the streaming path."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from potluck.cli._app import JsonOut, app, console, emit, kv_table, load_settings, new_progress

__all__: list[str] = []

stream_app = typer.Typer(help="Streaming ingestion: send events, run the processor, inspect.")
app.add_typer(stream_app, name="stream")


@stream_app.command("send")
def send(
    source: Annotated[str, typer.Argument(help="The event source, e.g. txns.")],
    file: Annotated[Path, typer.Option("--file", "-f", help=".parquet, .csv or .jsonl rows.")],
    id_column: Annotated[
        str | None, typer.Option("--id-column", help="Column holding producer event ids.")
    ] = None,
    json_out: JsonOut = None,
) -> None:
    """Append a file's rows to the source's stream as events. Every row is checked
    first (a bad row appends none); the file is read in batches, never held whole."""
    from potluck.features.repo import FeatureRepo
    from potluck.services.stream_files import send_file

    with new_progress() as progress:
        tasks: dict[str, Any] = {}

        def step(phase: str, done: int, total: int | None) -> None:
            if phase not in tasks:
                tasks[phase] = progress.add_task(f"{phase} events", total=total)
            progress.update(tasks[phase], completed=done, total=total)

        sent = send_file(FeatureRepo(load_settings()), source, file, id_column, step)
    result = {"source": source, "sent": sent}
    console.print(kv_table("sent", result))
    emit(result, json_out)


def _progress_table(progress: Any) -> Table:
    table = Table(title="stream processor", show_header=False)
    table.add_row("events/s", f"{progress.events_per_s:,.0f}")
    for source, lag in progress.lag.items():
        table.add_row(f"lag {source}", "?" if lag is None else f"{lag:,}")
    for name in ("applied", "dead", "late", "duplicates", "batches", "claimed", "reconnects"):
        table.add_row(name, f"{getattr(progress, name):,}")
    return table


@stream_app.command("run")
def run(
    source: Annotated[
        list[str] | None, typer.Option("--source", "-s", help="Sources (default: all online).")
    ] = None,
    group: Annotated[str, typer.Option(help="Consumer group.")] = "potluck",
    batch: Annotated[int, typer.Option(help="Entries per batch.", min=1)] = 20_000,
    lateness: Annotated[
        float, typer.Option(help="Allowed lateness in seconds behind the watermark.")
    ] = 3600.0,
    claim_idle: Annotated[
        float, typer.Option(help="Seconds before a silent consumer's entries are claimed.")
    ] = 30.0,
    retention: Annotated[
        float, typer.Option(help="Seconds acknowledged entries stay in the log.")
    ] = 86400.0,
    max_events: Annotated[int | None, typer.Option(help="Stop after this many.")] = None,
    idle_exit: Annotated[
        float | None, typer.Option(help="Stop after this many idle seconds.")
    ] = None,
    engine: Annotated[
        str,
        typer.Option(
            help="local: the in-process processor; spark: Structured Streaming micro-batches"
            " of the pending events (availableNow) on the Spark session of the settings"
            " (Redis online store only), then exit."
        ),
    ] = "local",
    checkpoint: Annotated[
        Path | None,
        typer.Option(help="Spark checkpoint directory (default: HOME/streams/spark)."),
    ] = None,
    json_out: JsonOut = None,
) -> None:
    """Consume events: validate, update online values and window states, append offline."""
    from dataclasses import asdict

    from rich.live import Live

    from potluck.features.repo import FeatureRepo
    from potluck.streams.processor import Processor, StreamOptions

    if engine not in ("local", "spark"):
        raise typer.BadParameter(f"engine must be local or spark, not {engine!r}")
    if engine == "spark":
        _run_on_spark(source, lateness, checkpoint, json_out)
        return
    options = StreamOptions(
        group=group,
        batch=batch,
        lateness=timedelta(seconds=lateness),
        claim_idle_ms=int(claim_idle * 1000),
        retention=timedelta(seconds=retention),
    )
    processor = Processor(FeatureRepo(load_settings()), source, options)
    with Live(console=console, refresh_per_second=2) as live:
        try:
            progress = processor.run(
                max_events=max_events,
                idle_exit_s=idle_exit,
                on_progress=lambda p: live.update(_progress_table(p)),
            )
        except KeyboardInterrupt:
            processor.stop()
            progress = processor.progress
    processor.log.close()
    emit(asdict(progress), json_out)


def _run_on_spark(
    sources: list[str] | None, lateness: float, checkpoint: Path | None, json_out: Path | None
) -> None:
    """``stream_on_spark``: the same kernel as the local processor, in Spark's workers."""
    from potluck.connectors.spark.session import spark_session
    from potluck.features.repo import FeatureRepo
    from potluck.streams.spark import stream_on_spark

    settings = load_settings()
    where = checkpoint or settings.home / "streams" / "spark"
    where.mkdir(parents=True, exist_ok=True)
    appended = stream_on_spark(
        FeatureRepo(settings), sources, spark_session(), str(where), lateness_s=lateness
    )
    console.print(kv_table("stream run on Spark: rows appended offline", appended))
    emit({"engine": "spark", "checkpoint": str(where), "appended": appended}, json_out)


@stream_app.command("status")
def status(
    source: Annotated[list[str] | None, typer.Option("--source", "-s")] = None,
    json_out: JsonOut = None,
) -> None:
    """Lag per consumer group, last committed entry, events/s, dead-lettered count, and
    the window views whose states the source's processor owns."""
    from potluck.features.repo import FeatureRepo
    from potluck.services.streams import stream_status

    rows = stream_status(FeatureRepo(load_settings()), source)
    table = Table(title="streams")
    for column in (
        "source",
        "group",
        "length",
        "lag",
        "pending",
        "last",
        "events/s",
        "applied",
        "dead",
        "late",
        "dupes",
        "owns",
    ):
        table.add_column(column)
    for r in rows:
        rate = r["events_per_s"]
        table.add_row(
            r["source"],
            r["group"],
            str(r["length"]),
            str(r["lag"]),
            str(r["pending"]),
            str(r["last_committed"]),
            "-" if rate is None else f"{rate:,.0f}",
            str(r["applied"]),
            str(r["dead"]),
            str(r["late"]),
            str(r["duplicates"]),
            ", ".join(r["owns"]) or "-",
        )
    console.print(table)
    emit(rows, json_out)


@stream_app.command("dead-letters")
def dead_letters(
    source: Annotated[str, typer.Argument()],
    count: Annotated[int, typer.Option(help="Newest first, this many.", min=1)] = 20,
    json_out: JsonOut = None,
) -> None:
    """Events the processor refused, with the reason (newest first)."""
    from potluck.features.repo import FeatureRepo
    from potluck.services.streams import dead_letters as letters

    rows = letters(FeatureRepo(load_settings()), source, count)
    table = Table(title=f"dead letters of {source}")
    for column in ("entry", "reason", "detail", "data"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(r["entry"], r["reason"], r["detail"][:200], r["data"][:120])
    console.print(table)
    emit(rows, json_out)


@stream_app.command("release")
def release(
    source: Annotated[str, typer.Argument(help="The event source whose processor is stopped.")],
    json_out: JsonOut = None,
) -> None:
    """Hand the source's window states back to `potluck materialize` (stop its processor
    first; the outbox is flushed to the offline table before). A processor running or
    started again takes them back: it re-anchors within seconds."""
    from potluck.features.repo import FeatureRepo
    from potluck.services.streams import release_states

    views = release_states(FeatureRepo(load_settings()), source)
    console.print(
        f"window states of {', '.join(views) or 'no view'} handed back to batch "
        "materialization: run `potluck materialize`"
    )
    emit({"source": source, "released": views}, json_out)
