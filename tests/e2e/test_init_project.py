"""``potluck init``: a project a user can run at once, and the refusals that protect files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def cli(cwd: Path, *args: str, deployment: str = "healthcare") -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "POTLUCK_HOME": str(cwd / "home"),
        "POTLUCK_PROFILE": "embedded",
        "POTLUCK_DEPLOYMENT": deployment,
        "PYTHONPATH": str(ROOT / "src"),
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "potluck.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def said(proc: subprocess.CompletedProcess[str]) -> str:
    return " ".join((proc.stdout + proc.stderr).split())


def test_init_then_load_apply_training_set(tmp_path: Path) -> None:
    project = tmp_path / "shop"
    proc = cli(tmp_path, "init", str(project))
    assert proc.returncode == 0, said(proc)
    assert (project / "potluck_deployment.py").is_file()
    assert "potluck load orders data/orders.csv" in (project / "README.md").read_text()
    for step in (
        ("load", "orders", str(project / "data" / "orders.csv")),
        ("apply",),
        ("training-set",),
    ):
        proc = cli(tmp_path, *step, deployment=str(project))
        assert proc.returncode == 0, f"{step}: {said(proc)}"
    assert (tmp_path / "home" / "data" / "training_set.parquet").is_file()


def test_init_refusals(tmp_path: Path) -> None:
    project = tmp_path / "shop"
    assert cli(tmp_path, "init", str(project)).returncode == 0
    again = cli(tmp_path, "init", str(project))
    assert again.returncode == 1
    assert "already has potluck_deployment.py, README.md, data/orders.csv: nothing written" in (
        said(again)
    )
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    proc = cli(tmp_path, "init", str(link))
    assert proc.returncode == 1 and "is a symlink: give the real folder" in said(proc)
    proc = cli(tmp_path, "init", str(tmp_path / "9-Bad Name"))
    assert proc.returncode == 1 and "must be lowercase letters, digits and _" in said(proc)
    proc = cli(tmp_path, "init", str(tmp_path / "ok"), "--template", "fancy")
    assert proc.returncode == 1 and "unknown template 'fancy' (one of basic)" in said(proc)
    assert not (tmp_path / "ok").exists() and not (tmp_path / "elsewhere").exists()
