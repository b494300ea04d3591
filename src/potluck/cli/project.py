"""Bringing your own project and data: ``potluck init`` and ``potluck load``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from potluck.cli._app import JsonOut, app, console, emit, kv_table, load_settings
from potluck.errors import PotluckError

__all__: list[str] = []


@app.command()
def init(
    folder: Annotated[Path, typer.Argument(help="Folder of the new project (created).")],
    template: Annotated[str, typer.Option(help="Template: basic.")] = "basic",
    name: Annotated[str | None, typer.Option(help="Project name (default: the folder's).")] = None,
) -> None:
    """Write a new project: a documented deployment file and a README of the next commands."""
    from potluck.project import init_project

    written = init_project(folder, template, name)
    for path in written:
        console.print(f"wrote {path}")
    console.print(f"next: export POTLUCK_DEPLOYMENT={folder.resolve()} (see {folder}/README.md)")


@app.command()
def load(
    source: Annotated[str, typer.Argument(help="A logical source of the deployment.")],
    file: Annotated[Path, typer.Argument(help="CSV, Parquet or JSON lines.")],
    mode: Annotated[str, typer.Option(help="append | replace")] = "append",
    time: Annotated[
        str | None,
        typer.Option(
            "--time", help="The file has no timestamp column: stamp every row with this ISO time."
        ),
    ] = None,
    json_out: JsonOut = None,
) -> None:
    """Check FILE against SOURCE's declared schema (every problem listed) and write it."""
    from datetime import datetime

    from potluck.ingest import load as run

    if mode not in ("append", "replace"):
        raise PotluckError(f"--mode must be append or replace, got {mode!r}")
    stamp = None
    if time is not None:
        try:
            stamp = datetime.fromisoformat(time)
        except ValueError:
            raise PotluckError(f"--time must be an ISO date or datetime, got {time!r}") from None
    with console.status(f"loading {file.name} into {source}"):
        result = run(load_settings(), source, file, mode=mode, stamp=stamp)  # type: ignore[arg-type]
    shown = {
        "source": result.source,
        "rows": result.rows,
        "mode": result.mode,
        "connector": result.connector,
        "latest": result.latest.isoformat() if result.latest else None,
    }
    console.print(kv_table("loaded", shown))
    emit(shown, json_out)
