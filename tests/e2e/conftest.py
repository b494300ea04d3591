"""One real run of the flagship demo, shared by the end-to-end tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

DEMO_PATIENTS = 4000
# Today (UTC): online reads apply TTLs relative to the read time, so the anchor must be now.
AS_OF = datetime.now(UTC).date().isoformat()


@dataclass(frozen=True)
class DemoRun:
    home: Path
    summary: dict[str, Any]
    stdout: str

    def env(self) -> dict[str, str]:
        return {**os.environ, "POTLUCK_HOME": str(self.home), "POTLUCK_PROFILE": "embedded"}

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "potluck.cli", *args],
            env=self.env(),
            cwd=self.home.parent,
            capture_output=True,
            text=True,
            timeout=300,
        )


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    root = tmp_path_factory.mktemp("demo")
    home = root / "home"
    out = root / "demo.json"
    env = {**os.environ, "POTLUCK_HOME": str(home), "POTLUCK_PROFILE": "embedded", "COLUMNS": "120"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "potluck.cli",
            "demo",
            "--size",
            str(DEMO_PATIENTS),
            "--as-of",
            AS_OF,
            "--seed",
            "7",
            "--json-out",
            str(out),
        ],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, f"demo failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return DemoRun(home=home, summary=json.loads(out.read_text()), stdout=proc.stdout)


@pytest.fixture(scope="session")
def feast_world(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A 300-patient deployment built through the CLI, for Feast's own tools (feast_world.py)."""
    from tests.e2e.feast_world import build

    return build(tmp_path_factory.mktemp("feast_world"))
