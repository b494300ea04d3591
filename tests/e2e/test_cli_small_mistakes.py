"""Small mistakes through the real CLI: said plainly, non-zero exit, no internal error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from potluck.devservices import free_port
from tests.e2e.feast_world import FeastWorld


def _run(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "POTLUCK_HOME": str(home), "POTLUCK_PROFILE": "embedded", **env}
    full.pop("POTLUCK_DEBUG", None)
    full["COLUMNS"] = "300"
    home.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "potluck.cli", *args],
        env=full,
        cwd=home.parent,
        capture_output=True,
        text=True,
        timeout=180,
    )


def _said(proc: subprocess.CompletedProcess[str]) -> str:
    return " ".join((proc.stdout + proc.stderr).split())


def test_materialize_before_apply_says_to_apply(tmp_path: Path) -> None:
    proc = _run(tmp_path / "home", "materialize")
    assert proc.returncode == 1, _said(proc)
    assert "run `potluck apply` first" in _said(proc)


def test_services_profile_with_servers_down_names_the_server(tmp_path: Path) -> None:
    down = str(free_port())  # nothing listens there
    proc = _run(
        tmp_path / "home",
        "apply",
        POTLUCK_PROFILE="services",
        POTLUCK_POSTGRES__PORT=down,
        POTLUCK_REDIS__PORT=down,
    )
    said = _said(proc)
    assert proc.returncode == 1, said
    assert f"PostgreSQL at 127.0.0.1:{down} is not reachable (Connection refused)" in said
    assert "make services-up" in said
    assert "internal error" not in said and "Traceback" not in said


def test_redis_down_names_redis(tmp_path: Path) -> None:
    down = str(free_port())
    env = {"POTLUCK_ONLINE_STORE": "redis", "POTLUCK_REDIS__PORT": down}
    applied = _run(tmp_path / "home", "apply", **env)  # the registry is SQLite: fine
    assert applied.returncode == 0, _said(applied)
    proc = _run(tmp_path / "home", "online", "P00000001", **env)
    said = _said(proc)
    assert proc.returncode == 1, said
    assert f"Redis at 127.0.0.1:{down} is not reachable" in said and "make services-up" in said


@pytest.mark.xdist_group("feast_world")
def test_online_unknown_entity_exits_non_zero(feast_world: FeastWorld) -> None:
    proc = feast_world.potluck("online", "UNKNOWN")
    assert proc.returncode == 1, _said(proc)
    assert "'UNKNOWN' is unknown to the online store" in _said(proc)


def test_train_accepts_lightgbm(tmp_path: Path) -> None:
    # accepted: the command gets past option checking to the missing training set
    proc = _run(tmp_path / "home", "train", "--framework", "lightgbm")
    assert proc.returncode == 1
    assert "--framework must be one of" not in _said(proc)
    assert "run `potluck training-set` first" in _said(proc)
