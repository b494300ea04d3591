"""Bad input through the CLI: a precise message, a non-zero exit, no stack trace."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "POTLUCK_HOME": str(home), "POTLUCK_PROFILE": "embedded"}
    env.pop("POTLUCK_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "potluck.cli", *args],
        env=env,
        cwd=home.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("train",), "run `potluck training-set` first"),
        (("engineer",), "potluck load clinical_measurements FILE"),
        (("seed", "--as-of", "yesterday-ish"), "--as-of must be an ISO date"),
        (
            ("train", "--framework", "keras"),
            "--framework must be one of sklearn, xgboost, lightgbm",
        ),
    ],
)
def test_bad_input_is_one_clear_line(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    proc = run(tmp_path / "home", *args)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert message in " ".join(proc.stderr.split())
    assert "Traceback" not in proc.stderr + proc.stdout


def test_unknown_profile_is_a_configuration_error(tmp_path: Path) -> None:
    env = {**os.environ, "POTLUCK_HOME": str(tmp_path), "POTLUCK_PROFILE": "cloud"}
    proc = subprocess.run(
        [sys.executable, "-m", "potluck.cli", "apply"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "profile" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_help_is_fast_and_lists_every_step() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "potluck.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert proc.returncode == 0
    for command in (
        "demo",
        "seed",
        "apply",
        "engineer",
        "training-set",
        "train",
        "materialize",
        "online",
        "predict",
    ):
        assert command in proc.stdout


def test_typer_exit_codes_reach_the_shell() -> None:
    """`typer.Exit(n)` inside a command must become the process exit code."""
    import typer

    from potluck.cli import main
    from potluck.cli._app import app

    @app.command("exit-probe", hidden=True)
    def exit_probe() -> None:
        raise typer.Exit(4)

    argv = sys.argv
    sys.argv = ["potluck", "exit-probe"]
    try:
        with pytest.raises(SystemExit) as info:
            main()
    finally:
        sys.argv = argv
        app.registered_commands[:] = [c for c in app.registered_commands if c.name != "exit-probe"]
    assert info.value.code == 4
