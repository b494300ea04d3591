"""The shared typer app, consoles and option types of the ``potluck`` CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from potluck.errors import ConfigurationError, PotluckError

if TYPE_CHECKING:  # settings (pydantic-settings) load only when a command runs
    from potluck.settings import Settings

__all__ = [
    "AsOf",
    "DeploymentOption",
    "JsonOut",
    "Seed",
    "Size",
    "app",
    "as_of_option",
    "console",
    "emit",
    "err",
    "kv_table",
    "load_settings",
    "new_progress",
    "use_deployment",
]

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
Size = Annotated[
    int | None,
    typer.Option("--size", "-n", help="Synthetic entities (default: the deployment's size)."),
]
Seed = Annotated[int | None, typer.Option("--seed", help="Random seed (default: settings).")]
DeploymentOption = Annotated[
    str | None,
    typer.Option(
        "--deployment",
        "-d",
        help="Deployment: built-in name, package.module:NAME or project folder "
        "(default: POTLUCK_DEPLOYMENT).",
    ),
]
AsOf = Annotated[
    str | None, typer.Option("--as-of", help="Anchor date of the data, ISO (default: today UTC).")
]


def load_settings() -> Settings:
    """The settings from the environment; a bad value is a ConfigurationError naming it."""
    from pydantic import ValidationError

    from potluck.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        problems = [
            f"{'.'.join(map(str, e['loc']))} "
            f"(POTLUCK_{'__'.join(map(str, e['loc'])).upper()}={e['input']!r}): {e['msg']}"
            for e in exc.errors()
        ]
        raise ConfigurationError("invalid settings: " + "; ".join(problems)) from None


def use_deployment(choice: str | None) -> None:
    """``--deployment`` given: it wins over ``POTLUCK_DEPLOYMENT`` for this command."""
    if choice:
        import os

        os.environ["POTLUCK_DEPLOYMENT"] = choice


def new_progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
    )


def as_of_option(value: str | None) -> datetime:
    if value is None:
        from potluck.settings import today_utc

        return today_utc()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise PotluckError(f"--as-of must be an ISO date or datetime, got {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def emit(result: Any, json_out: Path | None) -> None:
    """Write ``result`` as JSON when ``--json-out`` was given."""
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(result, indent=2, default=str))
        console.print(f"[dim]wrote {json_out}[/dim]")


def kv_table(title: str, rows: dict[str, Any]) -> Table:
    table = Table(title=title, show_header=False)
    for key, value in rows.items():
        table.add_row(str(key), str(value))
    return table
