"""``potluck load`` through the CLI: exit codes, the listed problems, --time and --json-out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.unit.ingest.conftest import STORES, write

SRC = str(Path(__file__).resolve().parents[3] / "src")


def cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "POTLUCK_HOME": str(home),
        "POTLUCK_PROFILE": "embedded",
        "POTLUCK_DEPLOYMENT": STORES,
        "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")]),
        "COLUMNS": "200",
    }
    env.pop("POTLUCK_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "potluck.cli", *args],
        env=env,
        cwd=home.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_load_cli_refuses_with_every_problem_then_loads(tmp_path: Path) -> None:
    home = tmp_path / "home"
    bad = write(tmp_path / "t.csv", "store_id,next_week_revenue,colour\n1.5,x,red\n")
    proc = cli(home, "load", "targets", str(bad))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    said = " ".join(proc.stderr.split())
    for part in (
        "invalid t.csv for source 'targets'",
        "pass --time ISO",
        "extra column(s) not in the source's schema: colour",
        "missing column(s): week_start, expected_revenue",
        "column 'store_id' holds integers; fractional value at row 1 ('1.5')",
        "column 'next_week_revenue': not a number at row 1 ('x')",
    ):
        assert part in said, said
    assert "Traceback" not in proc.stderr

    good = write(tmp_path / "g.csv", "store_id,next_week_revenue,expected_revenue\n1,5,N/A\n")
    out = tmp_path / "load.json"
    proc = cli(home, "load", "targets", str(good), "--time", "2024-05-01", "--json-out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(out.read_text()) == {
        "source": "targets",
        "rows": 1,
        "mode": "append",
        "connector": "parquet",
        "latest": "2024-05-01T00:00:00+00:00",
    }
    proc = cli(home, "load", "targets", str(good), "--time", "tomorrow")
    assert proc.returncode == 1
    assert "--time must be an ISO date or datetime, got 'tomorrow'" in proc.stderr
    proc = cli(home, "load", "targets", str(good), "--mode", "upsert")
    assert proc.returncode == 1
    assert "--mode must be append or replace" in proc.stderr
