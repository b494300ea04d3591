"""``potluck push SOURCE --file rows.parquet``: fresh rows online and offline at once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from potluck.cli._app import JsonOut, app, console, emit, kv_table, load_settings

__all__: list[str] = []


@app.command()
def push(
    source: Annotated[str, typer.Argument(help="Push source, e.g. clinical_push.")],
    file: Annotated[
        Path, typer.Option("--file", "-f", help="Rows to push: .parquet, .csv or .jsonl.")
    ],
    to: Annotated[
        str, typer.Option("--to", help="online | offline | online_and_offline (Feast's modes).")
    ] = "online_and_offline",
    json_out: JsonOut = None,
) -> None:
    """Push rows to the online store and/or append them to the view's source system."""
    from dataclasses import asdict

    from potluck.features.repo import FeatureRepo
    from potluck.services.push import push_rows, read_rows

    rows = read_rows(file)
    with console.status(f"pushing {rows.num_rows:,} rows to {source}"):
        summary = push_rows(FeatureRepo(load_settings()), source, rows, to=to)
    console.print(kv_table("pushed", asdict(summary)))
    emit(asdict(summary), json_out)
