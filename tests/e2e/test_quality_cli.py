"""The quality gates through the real ``potluck`` CLI, and their HTML in headless Chromium.

The CLI runs share the seeded deployment (and its broken copies) of the unit tests
(``tests/unit/quality/quality_world.py``) and run concurrently, three at a time. Each
gate's pass and fail cases are unit-tested in-process; here every command kind that
exits non-zero, writes HTML or renders the catalog goes through the real CLI once.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from tests.unit.quality.quality_world import QualityWorld, build_world

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("quality")]

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1200,1600",
]


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str
    result: dict[str, Any]

    @property
    def html(self) -> Path:
        match = re.search(r"HTML report: (\S+)", self.stdout.replace("\n", " "))
        assert match, self.stdout[-2000:]
        return Path(match.group(1))


def _run(home: Path, out: Path, *args: str) -> Run:
    env = {**os.environ, "POTLUCK_HOME": str(home), "POTLUCK_PROFILE": "embedded"}
    env["COLUMNS"] = "250"  # keep rich from folding paths across lines
    proc = subprocess.run(
        [sys.executable, "-m", "potluck.cli", *args, "--json-out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    result = json.loads(out.read_text()) if out.exists() else {}
    return Run(proc.returncode, proc.stdout, proc.stderr, result)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> QualityWorld:
    return build_world(tmp_path_factory.getbasetemp() / "quality_world")


@pytest.fixture(scope="module")
def runs(world: QualityWorld, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    out = tmp_path_factory.mktemp("quality_cli")
    reference = world.training_set()
    drifted = pq.read_table(reference)
    bmi = drifted.schema.get_field_index("bmi")
    drifted = drifted.set_column(bmi, "bmi", pc.add(drifted.column(bmi), 6.0))
    pq.write_table(drifted, out / "drifted.parquet")
    jobs: dict[str, tuple[Path, tuple[str, ...]]] = {
        "validate": (world.home(), ("validate",)),
        "validate_broken": (world.home("schema_broken"), ("validate",)),
        "audit_leaky": (world.home("leaky"), ("audit",)),
        "drift": (
            world.home(),
            ("drift", "--reference", str(reference), "--current", str(out / "drifted.parquet")),
        ),
        "freshness_stale": (world.home("stale"), ("freshness",)),
        "docs": (world.home(), ("docs",)),
    }
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {
            name: pool.submit(_run, home, out / f"{name}.json", *args)
            for name, (home, args) in jobs.items()
        }
        return {name: future.result() for name, future in futures.items()}


def test_clean_gates_exit_zero(runs: dict[str, Run]) -> None:
    for name in ("validate", "docs"):
        run = runs[name]
        assert run.code == 0, (name, run.stdout[-3000:], run.stderr[-3000:])
        assert run.result["passed"] is True and run.result["failures"] == 0, name
        assert "Traceback" not in run.stderr


def test_failing_gates_exit_non_zero_and_list_failures(runs: dict[str, Run]) -> None:
    broken = runs["validate_broken"]
    assert broken.code == 1, broken.stderr[-2000:]
    failed = {
        (f["check"], f["subject"]) for f in broken.result["findings"] if f["status"] == "fail"
    }
    assert {("source", "clinical_measurements"), ("source", "lifestyle_data")} <= failed
    assert "missing: bmi" in broken.stdout
    leaky = runs["audit_leaky"]
    assert leaky.code == 1 and "label_in_service" in leaky.stdout
    stale = runs["freshness_stale"]
    assert stale.code == 1 and "clinical_statistics" in stale.result["summary"]["missed"]
    drift = runs["drift"]
    assert drift.code == 1 and drift.result["summary"]["drifted"] == ["bmi"]


def test_reports_are_written_under_the_home(runs: dict[str, Run], world: QualityWorld) -> None:
    for name in ("drift", "freshness_stale", "audit_leaky"):
        html = runs[name].html
        assert html.parent.name == "reports" and html.exists(), name
        assert runs[name].result["html"] == str(html)
    docs = runs["docs"]
    assert Path(docs.result["markdown"]).read_text().startswith("# Feature catalog")
    assert docs.result["catalog"]["models"][0]["feature_service"] == "stroke_risk_v1"
    assert docs.html == world.home() / "reports" / "catalog.html"


def _screenshot(html: Path, png: Path) -> np.ndarray:
    from matplotlib.image import imread

    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is not installed (make system-deps)"
    profile = png.parent / f"{png.stem}-profile"
    subprocess.run(
        [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--screenshot={png}",
            html.as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    image: np.ndarray = imread(png)[:, :, :3]
    return (image * 255).round().astype(int)


def _near(image: np.ndarray, rgb: tuple[int, int, int], tolerance: int = 12) -> int:
    return int((np.abs(image - np.array(rgb)).max(axis=2) <= tolerance).sum())


def test_html_reports_render_their_plots_in_chromium(runs: dict[str, Run], tmp_path: Path) -> None:
    drift = _screenshot(runs["drift"].html, tmp_path / "drift.png")
    assert drift.shape[:2] == (1600, 1200)
    assert len(np.unique(drift.reshape(-1, 3), axis=0)) > 50  # not a blank page
    # the categorical bars: reference blue and current orange, drawn solid
    assert _near(drift, (28, 126, 214)) > 2000
    assert _near(drift, (247, 103, 7)) > 2000
    # the audit's training-set report embeds its two plots (AUC bars, null causes)
    assert runs["audit_leaky"].html.read_text().count("data:image/png;base64,") == 2


def test_drifted_current_file_is_untouched_input(world: QualityWorld) -> None:
    # the CLI only reads its inputs: the reference training set still holds the original bmi
    table = pq.read_table(world.training_set())
    assert isinstance(table, pa.Table) and pc.max(table.column("bmi")).as_py() < 60
