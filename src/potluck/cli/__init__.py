"""The ``potluck`` command line (typer + rich).

Commands are thin layers over ``potluck.workflows`` and friends, one module per
area (``deployment.py``, ...), all registered on the shared app in ``_app.py``.
Feast, MLflow and drivers are imported inside commands so ``potluck --help``
stays fast. Every :class:`PotluckError` becomes a one-line red message and exit
code 1; anything unexpected exits 3 with one line (``POTLUCK_DEBUG=1`` shows
the traceback). No stack trace reaches a user by default.
"""

from __future__ import annotations

import os
import sys

import typer

from potluck.cli import (  # noqa: F401 - registers commands
    api,
    deployment,
    online,
    project,
    push,
    quality,
    services,
    streams,
)
from potluck.cli._app import app, err
from potluck.errors import PotluckError

__all__ = ["app", "main"]


def main() -> None:
    """Entry point: run the app, turning potluck errors into clean messages."""
    try:
        # Outside standalone mode click *returns* the code of a `typer.Exit(n)`.
        code = app(standalone_mode=False)
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
        down = _server_error(exc)
        if down is not None:
            err.print(f"[bold red]error[/bold red] ({down.code}): {down.message}")
            sys.exit(1)
        err.print(
            f"[bold red]internal error[/bold red]: {type(exc).__name__}: {exc} "
            "(set POTLUCK_DEBUG=1 for a traceback)"
        )
        sys.exit(3)
    if isinstance(code, int) and code:
        sys.exit(code)


def _server_error(exc: Exception) -> PotluckError | None:
    """A profile server that is down, named (see potluck.features.unreachable)."""
    from potluck.features.unreachable import server_error
    from potluck.settings import Settings

    try:
        settings = Settings()
    except Exception:
        return None
    return server_error(exc, settings)
