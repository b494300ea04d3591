"""Commands of the online store: materialize (once, resumed, or on a schedule) and online."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from potluck.cli._app import JsonOut, app, console, emit, err, kv_table, load_settings, new_progress
from potluck.errors import PotluckError

__all__: list[str] = []


def _moment(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise PotluckError(f"{option} must be an ISO date or datetime, got {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@app.command(
    epilog=(
        "Cron instead of --every: '0 */6 * * * potluck materialize --incremental --lookback 2h'"
        " (a second run refuses while one is running; a crashed run is resumed by the next)."
    )
)
def materialize(
    incremental: Annotated[
        bool, typer.Option("--incremental", help="Only rows since the last run.")
    ] = False,
    lookback: Annotated[
        str | None,
        typer.Option(
            help="Re-read this far behind the last run for late rows, e.g. 2h "
            "(implies --incremental)."
        ),
    ] = None,
    end: Annotated[str | None, typer.Option(help="End of the window, ISO (default: now).")] = None,
    start: Annotated[
        str | None, typer.Option(help="Start of a full run's window, ISO (default: 1970).")
    ] = None,
    view: Annotated[
        list[str] | None, typer.Option("--view", help="Only this view (repeatable).")
    ] = None,
    chunk_size: Annotated[
        int, typer.Option(help="Source rows per read (whole entities): bounds memory.")
    ] = 50_000,
    restart: Annotated[
        bool, typer.Option("--restart", help="Discard an unfinished run instead of resuming it.")
    ] = False,
    every: Annotated[
        str | None,
        typer.Option(help="Run incrementally now and then at this interval, e.g. 6h."),
    ] = None,
    runs: Annotated[int | None, typer.Option(help="With --every: stop after N runs.")] = None,
    json_out: JsonOut = None,
) -> None:
    """Materialize feature views into the online store (chunked, resumable)."""
    # Before pyarrow loads (nothing has imported it yet): Arrow's compiled-in default
    # allocator, which C++ scans use whatever Python's pool is, becomes malloc, tuned
    # by lean_memory(). mimalloc kept ~80 MB of freed pages resident.
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    from potluck.features.repo import FeatureRepo
    from potluck.online.materialize import lean_memory
    from potluck.online.materialize import materialize as run_materialize
    from potluck.online.schedule import parse_duration, run_every

    lean_memory()  # this process only materializes: keep its memory near the working set
    window = parse_duration(lookback) if lookback else None
    first_end, first_start = _moment(end, "--end"), _moment(start, "--start")
    repo = FeatureRepo(load_settings())

    def once(number: int) -> dict[str, Any]:
        with new_progress() as progress:
            tasks: dict[str, Any] = {}

            def step(name: str, done: int, total: int) -> None:
                if name not in tasks:
                    tasks[name] = progress.add_task(name, total=total)
                progress.update(tasks[name], completed=done, total=total)

            summary = run_materialize(
                repo,
                incremental=incremental or every is not None,
                lookback=window,
                end=first_end if number == 1 else None,
                start=first_start,
                views=view,
                chunk_size=chunk_size,
                restart=restart and number == 1,
                on_progress=step,
            )
        title = "materialized rows" + (" (resumed run)" if summary.resumed else "")
        console.print(kv_table(title, {**summary.rows, "seconds": round(summary.seconds, 2)}))
        for name, source in summary.left_to_stream.items():
            console.print(
                f"[yellow]{name}[/yellow]: window states left to the stream processor of "
                f"source '{source}' (it re-anchors them from the offline table and its "
                f"outbox); `potluck stream release {source}` hands them back"
            )
        return summary.to_dict()

    if every is None:
        emit(once(1), json_out)
        return
    interval = parse_duration(every)

    def failed(number: int, exc: PotluckError) -> None:
        err.print(f"[bold red]run {number} failed[/bold red] ({exc.code}): {exc.message}")

    def job(number: int) -> dict[str, Any]:
        console.print(f"[dim]run {number} at {datetime.now(UTC).isoformat()}[/dim]")
        result = once(number)
        emit(result, json_out)
        return result

    try:
        results = run_every(interval, job, runs=runs, on_error=failed)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    if any(isinstance(r, PotluckError) for r in results):
        raise typer.Exit(1)


@app.command()
def online(
    entity_ids: Annotated[
        list[str], typer.Argument(help="Entity ids (k1=v1,k2=v2 for a composite key).")
    ],
    service: Annotated[
        str | None, typer.Option(help="Feature service (default: the model's).")
    ] = None,
    entity: Annotated[
        str | None, typer.Option(help="Entity (default: the label's entity).")
    ] = None,
    json_out: JsonOut = None,
) -> None:
    """Read online features for entities; unknown entities are said so (exit 1 if none known)."""
    from potluck.deployment import active_deployment
    from potluck.features.repo import FeatureRepo
    from potluck.online.reads import entity_columns, online_features

    settings = load_settings()
    deployment = active_deployment(settings)
    spec = deployment.entity(entity) if entity else deployment.primary_entity
    keys = entity_columns(spec, entity_ids)
    rows = online_features(FeatureRepo(settings), service or deployment.model.feature_service, keys)
    for raw, row in zip(entity_ids, rows, strict=True):
        if row["_status"] == "unknown_entity":
            err.print(f"[yellow]{spec.name} {raw!r} is unknown to the online store[/yellow]")
            continue
        shown = {k: v for k, v in row.items() if k not in keys}
        console.print(kv_table(f"{spec.name} {raw}", shown))
    emit(rows, json_out)
    if all(r["_status"] == "unknown_entity" for r in rows):
        raise typer.Exit(1)
